//! Webhook endpoints: their admin API, signing secrets, the Standard Webhooks signature
//! and the HTTP sink that delivers through the delivery engine (`crate::delivery`).
