//! One fixture per event kind: the payload of a journal entry holding that one event.

use crate::fixture;
use crate::samples::{self, AT_MS};
use playcore_actors::domain::{Event, EventKind};
use playcore_snapshots::{decode, encode};
use serde::de::{self, Deserialize, Visitor};

/// The fixture of each kind. A match without a catch-all: a new kind does not compile
/// until it is named here, and then [`every_kind_has_a_sample`] asks for its sample.
fn fixture_name(kind: &EventKind) -> &'static str {
    match kind {
        EventKind::ActivityCreated { .. } => "ActivityCreated",
        EventKind::ActivityUpdated { .. } => "ActivityUpdated",
        EventKind::ApprovalSubmitted { .. } => "ApprovalSubmitted",
        EventKind::ApprovalApproved { .. } => "ApprovalApproved",
        EventKind::ApprovalRejected { .. } => "ApprovalRejected",
        EventKind::ApprovalWithdrawn { .. } => "ApprovalWithdrawn",
        EventKind::ActivityPublished { .. } => "ActivityPublished",
        EventKind::ActivityUnpublished { .. } => "ActivityUnpublished",
        EventKind::ActivityOnline => "ActivityOnline",
        EventKind::ActivityEnded => "ActivityEnded",
        EventKind::InstanceCreated { .. } => "InstanceCreated",
        EventKind::InstancePaid { .. } => "InstancePaid",
        EventKind::InstanceCancelled { .. } => "InstanceCancelled",
        EventKind::InstanceTimeout { .. } => "InstanceTimeout",
        EventKind::InstanceRefundPending { .. } => "InstanceRefundPending",
        EventKind::InstanceRefunded { .. } => "InstanceRefunded",
        EventKind::InstanceSuccess { .. } => "InstanceSuccess",
        EventKind::InstanceFailed { .. } => "InstanceFailed",
        EventKind::FlashSaleSoldOut => "FlashSaleSoldOut",
        EventKind::GroupCreated { .. } => "GroupCreated",
        EventKind::GroupMemberJoined { .. } => "GroupMemberJoined",
        EventKind::GroupMemberLeft { .. } => "GroupMemberLeft",
        EventKind::GroupActivated { .. } => "GroupActivated",
        EventKind::GroupFull { .. } => "GroupFull",
        EventKind::CourseOpen { .. } => "CourseOpen",
        EventKind::GroupFailed { .. } => "GroupFailed",
        EventKind::GrayConfigured { .. } => "GrayConfigured",
        EventKind::ApprovalFlowSubmitted { .. } => "ApprovalFlowSubmitted",
        EventKind::ApprovalVoted { .. } => "ApprovalVoted",
        EventKind::ApprovalLevelAdvanced { .. } => "ApprovalLevelAdvanced",
        EventKind::ActivityRolledBack { .. } => "ActivityRolledBack",
        EventKind::OrdersArchived { .. } => "OrdersArchived",
        EventKind::InstanceFailedTo { .. } => "InstanceFailedTo",
    }
}

#[test]
fn every_kind_has_a_sample() {
    let sampled: Vec<&str> = samples::events().iter().map(fixture_name).collect();
    assert_eq!(
        sampled,
        declared_kinds(),
        "one sample per event kind, in declaration order (samples.rs)"
    );
}

#[test]
fn every_kind_reads_back_from_its_fixture_and_encodes_to_the_same_bytes() {
    for (index, kind) in samples::events().into_iter().enumerate() {
        let name = fixture_name(&kind);
        // What a journal entry holds: the events one command decided.
        let entry = vec![Event {
            at_ms: AT_MS + index as i64,
            kind,
        }];
        let encoded = encode(&entry).expect("encode");
        let path = format!("events/{name}");
        let stored = fixture::stored(&path, &encoded);
        let decoded: Vec<Event> =
            decode(&stored).unwrap_or_else(|error| panic!("{name} no longer decodes: {error}"));
        assert_eq!(decoded, entry, "{name} decodes to another value");
        fixture::assert_same_bytes(&path, &stored, &encoded);
    }
}

/// The variant names `EventKind` declares, in order, as its serde derive lists them: the
/// one list of kinds that needs no upkeep.
fn declared_kinds() -> Vec<&'static str> {
    match EventKind::deserialize(VariantLister) {
        Err(Listed(variants)) => variants.to_vec(),
        Ok(kind) => panic!("the lister produced {kind:?}"),
    }
}

/// A deserializer that answers an enum request with the enum's variant names.
struct VariantLister;

#[derive(Debug)]
struct Listed(&'static [&'static str]);

impl std::fmt::Display for Listed {
    fn fmt(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(formatter, "variants {:?}", self.0)
    }
}

impl std::error::Error for Listed {}

impl de::Error for Listed {
    fn custom<T: std::fmt::Display>(message: T) -> Self {
        panic!("not an enum: {message}")
    }
}

impl<'de> de::Deserializer<'de> for VariantLister {
    type Error = Listed;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Listed> {
        panic!("EventKind is not deserialized as an enum")
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        variants: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, Listed> {
        Err(Listed(variants))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map struct identifier
        ignored_any
    }
}
