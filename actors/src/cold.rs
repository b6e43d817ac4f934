//! Archived orders in the cold store ([`playcore_snapshots::ColdStore`]) as this crate
//! sees them: the archiver writes whole orders (encoded with the codec), and the registry
//! completes the view of an archived stub from them before any caller sees it.
//!
//! Every call here is blocking (a sled read, or a write with flush and `fdatasync`): the
//! registry runs them on the blocking pool, never on an actor or HTTP worker thread.

use crate::domain::state::Order;
use crate::domain::{ActivityId, OrderId};
use crate::views::{fill_detail, OrderView};
use playcore_snapshots::{decode, encode, CodecError, ColdError, ColdStore, Store, StoreError};

/// Why an archived order could not be written or read back.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error(transparent)]
    Cold(#[from] ColdError),
    #[error("archived order {id}: {source}")]
    Codec { id: OrderId, source: CodecError },
    #[error("archived order {0} is missing from the cold store")]
    Missing(OrderId),
    #[error("the cold record of order {0} does not match its stub")]
    Mismatch(OrderId),
    #[error("order {0} has no detail left to archive")]
    NoDetail(OrderId),
}

/// The cold store of whole orders. Shared (`Arc`) by the registry and the archiver.
pub struct ColdOrders {
    store: ColdStore,
}

impl ColdOrders {
    pub fn open(store: &Store) -> Result<ColdOrders, StoreError> {
        Ok(ColdOrders {
            store: ColdStore::open(store)?,
        })
    }

    /// Writes the whole orders (number, order) of `activity` and syncs them; blocking.
    /// An order already archived (no detail) is refused: its record would lose the view.
    pub fn write(&self, activity: ActivityId, orders: &[(u64, Order)]) -> Result<(), ArchiveError> {
        let mut records = Vec::with_capacity(orders.len());
        for (number, order) in orders {
            let id = OrderId {
                activity,
                number: *number,
            };
            if order.is_archived() {
                return Err(ArchiveError::NoDetail(id));
            }
            let payload = encode(order).map_err(|source| ArchiveError::Codec { id, source })?;
            records.push((*number, payload));
        }
        self.store.put_durably(activity.0, &records)?;
        Ok(())
    }

    /// The whole order as archived, if the cold store has it; blocking.
    pub fn read(&self, id: OrderId) -> Result<Option<Order>, ArchiveError> {
        let Some(payload) = self.store.get(id.activity.0, id.number)? else {
            return Ok(None);
        };
        let order = decode(&payload).map_err(|source| ArchiveError::Codec { id, source })?;
        Ok(Some(order))
    }

    /// Fills in the detail of an archived order's view from its cold record (a view of a
    /// live order is left alone). The record must be the stub's order: same user,
    /// quantity, amount and group; status and trade number come from the stub, which may
    /// have moved on (a late refund) since the record was written. Blocking.
    pub fn complete(&self, view: &mut OrderView) -> Result<(), ArchiveError> {
        if !view.archived {
            return Ok(());
        }
        let cold = self.read(view.id)?.ok_or(ArchiveError::Missing(view.id))?;
        let same_order = *cold.user == *view.user
            && cold.quantity == view.quantity
            && cold.amount_cents == view.amount_cents
            && cold.group == view.group.map(|group| group.number);
        let detail = cold.detail.filter(|_| same_order);
        let detail = detail.ok_or(ArchiveError::Mismatch(view.id))?;
        fill_detail(view, &detail);
        Ok(())
    }

    /// Records stored for `activity` (a scan: for tests and tools).
    pub fn count(&self, activity: ActivityId) -> usize {
        self.store.count(activity.0)
    }

    /// The underlying store, for corruption tests.
    #[doc(hidden)]
    pub fn raw(&self) -> &ColdStore {
        &self.store
    }
}
