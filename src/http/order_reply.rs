//! The success envelope around one order, written byte by byte: the grab's reply, the
//! hottest body the server writes.
//!
//! Through serde_json every key of the grab's reply went through the string escaper and
//! every field through the serializer's state machine.
//! Here keys are literals, numbers and ids are written digit by digit and strings are
//! escaped only when a byte needs it. The output is byte for byte what
//! [`crate::http::envelope::ok`] writes for an [`OrderDto`]; a property test holds the two
//! together.

use std::io::Write;

use actix_web::http::StatusCode;
use actix_web::HttpResponse;

use crate::http::dto::{OrderDto, Rfc3339};
use crate::http::envelope;

/// The success envelope with `order` as its data, in the status given.
pub fn order_response(status: StatusCode, order: &OrderDto) -> HttpResponse {
    let request_id = crate::http::request_id::current();
    let mut body = Vec::with_capacity(envelope::REPLY_BYTES_USUAL);
    write_order_envelope(&mut body, order, request_id.as_str(), envelope::now());
    envelope::json_response(status, body)
}

/// `{"success":true,"data":{order},"requestId":…,"timestamp":…}` into `body`.
pub fn write_order_envelope(
    body: &mut Vec<u8>,
    order: &OrderDto,
    request_id: &str,
    timestamp: Rfc3339,
) {
    body.extend_from_slice(br#"{"success":true,"data":"#);
    write_order(body, order);
    body.extend_from_slice(br#","requestId":"#);
    write_string(body, request_id);
    body.extend_from_slice(br#","timestamp":"#);
    write_time(body, timestamp);
    body.push(b'}');
}

/// The fields in [`OrderDto`]'s declaration order, optional ones only when present.
fn write_order(body: &mut Vec<u8>, order: &OrderDto) {
    let order_id = order.order_id.0;
    body.extend_from_slice(br#"{"orderId":""#);
    write_pair(body, b"ord-", order_id.activity.0, order_id.number);
    body.extend_from_slice(br#"","activityId":""#);
    write_number(body, order.activity_id.0 .0);
    body.extend_from_slice(br#"","userId":"#);
    write_string(body, order.user_id);
    body.extend_from_slice(br#","quantity":"#);
    write_number(body, u64::from(order.quantity));
    body.extend_from_slice(br#","amount":"#);
    write_number(body, order.amount);
    body.extend_from_slice(br#","status":"#);
    write_string(body, order.status.name());
    body.extend_from_slice(br#","createdAt":"#);
    write_time(body, order.created_at);
    body.extend_from_slice(br#","expiresAt":"#);
    write_time(body, order.expires_at);
    if let Some(paid_at) = order.paid_at {
        body.extend_from_slice(br#","paidAt":"#);
        write_time(body, paid_at);
    }
    if let Some(group_id) = &order.group_id {
        body.extend_from_slice(br#","groupId":""#);
        write_pair(body, b"grp-", group_id.0.activity.0, group_id.0.number);
        body.push(b'"');
    }
    if let Some(channel_id) = order.channel_id {
        body.extend_from_slice(br#","channelId":"#);
        write_string(body, channel_id);
    }
    if let Some(referrer_id) = order.referrer_id {
        body.extend_from_slice(br#","referrerId":"#);
        write_string(body, referrer_id);
    }
    if order.archived {
        body.extend_from_slice(br#","archived":true"#);
    }
    body.push(b'}');
}

/// An order's or a group's id as its `Display` writes it (`ord-7-42`, `grp-7-3`), without
/// the `fmt` machinery; the property test below compares it with `Display`.
fn write_pair(body: &mut Vec<u8>, prefix: &[u8], activity: u64, number: u64) {
    body.extend_from_slice(prefix);
    write_number(body, activity);
    body.push(b'-');
    write_number(body, number);
}

fn write_number(body: &mut Vec<u8>, mut value: u64) {
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    loop {
        start -= 1;
        digits[start] = b'0' + (value % 10) as u8;
        value /= 10;
        if value == 0 {
            break;
        }
    }
    body.extend_from_slice(&digits[start..]);
}

fn write_time(body: &mut Vec<u8>, time: Rfc3339) {
    body.push(b'"');
    match time.fast_bytes() {
        Some(text) => body.extend_from_slice(&text),
        // Writing to a Vec cannot fail.
        None => drop(write!(body, "{time}")),
    }
    body.push(b'"');
}

/// A JSON string: copied as it is unless a byte needs escaping, then through serde_json
/// (which escapes exactly as the serde path does).
fn write_string(body: &mut Vec<u8>, text: &str) {
    let plain = text
        .bytes()
        .all(|byte| byte >= 0x20 && byte != b'"' && byte != b'\\');
    if plain {
        body.push(b'"');
        body.extend_from_slice(text.as_bytes());
        body.push(b'"');
    } else {
        // Writing to a Vec cannot fail, and a &str always serializes.
        let _ = serde_json::to_writer(&mut *body, text);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::dto::Displayed;
    use playcore_actors::domain::{ActivityId, GroupId, OrderId, OrderStatus};
    use proptest::prelude::*;

    /// What the serde path writes for the same envelope.
    fn through_serde(order: &OrderDto, request_id: &str, timestamp: Rfc3339) -> Vec<u8> {
        envelope::success_bytes(order, request_id, timestamp).expect("serializes")
    }

    fn order<'a>(
        numbers: (u64, u64, u32, u64),
        times: (i64, i64, Option<i64>),
        group: Option<u64>,
        strings: (&'a str, Option<&'a str>, Option<&'a str>),
        archived: bool,
    ) -> OrderDto<'a> {
        let (activity, number, quantity, amount) = numbers;
        let activity = ActivityId(activity);
        OrderDto {
            order_id: Displayed(OrderId { activity, number }),
            activity_id: Displayed(activity),
            user_id: strings.0,
            quantity,
            amount,
            status: OrderStatus::PendingPay,
            created_at: Rfc3339(times.0),
            expires_at: Rfc3339(times.1),
            paid_at: times.2.map(Rfc3339),
            group_id: group.map(|number| Displayed(GroupId { activity, number })),
            channel_id: strings.1,
            referrer_id: strings.2,
            archived,
        }
    }

    #[test]
    fn a_grab_reply_is_what_serde_writes() {
        let grab = order(
            (7, 123_456, 1, 990),
            (1_795_000_000_123, 1_795_000_900_123, None),
            None,
            ("user-42", None, None),
            false,
        );
        let (request_id, now) = ("0123456789abcdef", Rfc3339(1_795_000_000_456));
        let mut written = Vec::new();
        write_order_envelope(&mut written, &grab, request_id, now);
        let text = String::from_utf8(written.clone()).expect("UTF-8");
        assert!(text.starts_with(r#"{"success":true,"data":{"orderId":"ord-7-123456","#));
        assert_eq!(written, through_serde(&grab, request_id, now));
    }

    fn text() -> impl Strategy<Value = String> {
        // Plain ids, and strings with quotes, backslashes, control and non-ASCII characters.
        prop_oneof![
            "[a-zA-Z0-9_:.-]{1,24}",
            any::<String>(),
            "[\"\\\\\u{0}-\u{1f}a\u{7f}é中😀]{0,8}",
        ]
    }

    fn time() -> impl Strategy<Value = i64> {
        // Inside and outside the years the fast RFC 3339 writer covers.
        prop_oneof![
            0i64..253_402_300_800_000,
            -10_000_000_000_000i64..300_000_000_000_000
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2_000))]

        #[test]
        fn every_order_envelope_is_what_serde_writes(
            numbers in (any::<u64>(), any::<u64>(), any::<u32>(), any::<u64>()),
            times in (time(), time(), proptest::option::of(time())),
            group in proptest::option::of(any::<u64>()),
            strings in (text(), proptest::option::of(text()), proptest::option::of(text())),
            request_id in "[!-~]{1,128}",
            now in time(),
            archived in any::<bool>(),
        ) {
            let (user, channel, referrer) = &strings;
            let dto = order(
                numbers,
                times,
                group,
                (user, channel.as_deref(), referrer.as_deref()),
                archived,
            );
            let mut written = Vec::new();
            write_order_envelope(&mut written, &dto, &request_id, Rfc3339(now));
            let expected = through_serde(&dto, &request_id, Rfc3339(now));
            prop_assert_eq!(
                String::from_utf8_lossy(&written),
                String::from_utf8_lossy(&expected)
            );
        }
    }
}
