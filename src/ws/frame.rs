//! The websocket frames (README, "Websockets"; `x-websocket-frame` in openapi.json), serialised once per state and shared by every
//! subscriber of that state: a [`Frame`] is a reference-counted string, so handing it to
//! ten thousand connections costs ten thousand reference-count increments, not copies.

use crate::http::dto::{ProgressDto, StockDto};
use bytestring::ByteString;
use playcore_actors::domain::{ActivityStatus, GroupStatus};
use playcore_actors::views::{ActivityView, GroupView};
use serde::Serialize;

/// One serialised state, ready to be sent as a text frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    /// The version of the state it shows: frames of one topic only ever move forward.
    pub version: u64,
    pub text: ByteString,
}

/// A published view that can be pushed: it knows its version and its frame.
pub trait Pushable: Send + Sync + 'static {
    fn version(&self) -> u64;
    fn frame(&self) -> Frame;
}

/// `{"type":"activity","activityId","status","stock":{…},"version"}`
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ActivityFrame {
    #[serde(rename = "type")]
    kind: &'static str,
    activity_id: String,
    status: ActivityStatus,
    stock: StockDto,
    version: u64,
}

/// `{"type":"group","groupId","status","progress":{current,target},"version"}`
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct GroupFrame {
    #[serde(rename = "type")]
    kind: &'static str,
    group_id: String,
    status: GroupStatus,
    progress: ProgressDto,
    version: u64,
}

fn serialise(version: u64, body: &impl Serialize) -> Frame {
    // Plain structs of strings and integers: serialisation cannot fail.
    let text = serde_json::to_string(body).unwrap_or_default();
    Frame {
        version,
        text: ByteString::from(text),
    }
}

impl Pushable for ActivityView {
    fn version(&self) -> u64 {
        self.version
    }

    fn frame(&self) -> Frame {
        let body = ActivityFrame {
            kind: "activity",
            activity_id: self.id.to_string(),
            status: self.status,
            stock: self.stock.into(),
            version: self.version,
        };
        serialise(self.version, &body)
    }
}

impl Pushable for GroupView {
    fn version(&self) -> u64 {
        self.version
    }

    fn frame(&self) -> Frame {
        let body = GroupFrame {
            kind: "group",
            group_id: self.id.to_string(),
            status: self.status,
            progress: ProgressDto {
                current: self.current,
                target: self.target,
            },
            version: self.version,
        };
        serialise(self.version, &body)
    }
}
