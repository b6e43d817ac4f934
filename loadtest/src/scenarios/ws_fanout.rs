//! ws-fanout: websocket subscribers on one activity while a rush runs.
//!
//! It needs the server's websockets (`GET /ws/activities/{id}`). Until the server has
//! them, the scenario probes the endpoint and says so, instead of pretending to measure.

use super::flash_rush::flash_sale;
use super::Setup;
use crate::client::Call;
use crate::summary::Report;
use crate::{HarnessError, Options};

pub async fn run(options: &Options, mut setup: Setup) -> Result<Report, HarnessError> {
    let activity = setup.admin.set_up(&flash_sale(options)).await?;
    let mut connection =
        crate::client::Connection::new(setup.target.clone(), std::time::Duration::from_secs(10));
    let probe = connection
        .send(&Call::get(format!("/ws/activities/{activity}")))
        .await?;
    let reason = if probe.status == 404 {
        format!(
            "ws-fanout needs the server's websockets, and {} has none yet: \
             GET /ws/activities/{activity} answered 404",
            setup.target.url
        )
    } else {
        format!(
            "the server answers GET /ws/activities/{activity} with HTTP {}, but this harness \
             has no websocket client yet",
            probe.status
        )
    };
    Err(HarnessError::Unsupported(reason))
}
