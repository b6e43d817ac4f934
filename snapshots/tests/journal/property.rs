use proptest::prelude::*;

use playcore_snapshots::{recover, Durability, Journal, Store};

use crate::helpers::*;

/// One step of a generated history: append (stream, payload), then maybe wait for
/// durability so the history spans several batches.
type Step = (u64, Vec<u8>, bool);

fn steps() -> impl Strategy<Value = Vec<Step>> {
    prop::collection::vec(
        (
            0..6_u64,
            prop::collection::vec(any::<u8>(), 0..200),
            prop::bool::weighted(0.1),
        ),
        1..200,
    )
}

fn replay(steps: &[Step], record_bytes_max: usize, fsync: bool) -> Result<(), TestCaseError> {
    let durability = if fsync {
        Durability::Fsync
    } else {
        Durability::Relaxed {
            flush_interval_ms: 1,
        }
    };
    let fail = |error: BoxError| TestCaseError::fail(error.to_string());
    let directory = tempfile::tempdir().map_err(|error| fail(error.into()))?;
    let expected = with_journal(
        directory.path(),
        config(durability, record_bytes_max),
        1,
        |journal: &Journal| {
            let mut expected = Vec::new();
            for (stream, payload, wait) in steps {
                expected.push(append_raw(journal, *stream, payload)?);
                if *wait {
                    wait_all_durable(journal)?;
                }
            }
            Ok(expected)
        },
    )
    .map_err(fail)?;
    let store = Store::open(directory.path()).map_err(|error| fail(error.into()))?;
    let recovered = recover(&store).map_err(|error| fail(error.into()))?;
    prop_assert_eq!(as_tuples(&recovered.events), expected);
    prop_assert_eq!(recovered.next_seq, steps.len() as u64 + 1);
    prop_assert!(recovered.tail_cut.is_none());
    Ok(())
}

proptest! {
    // Each case opens a sled directory; a few dozen cases keep the suite fast.
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn random_appends_recover_exactly(
        steps in steps(),
        record_bytes_max in 64..4096_usize,
        fsync in any::<bool>(),
    ) {
        replay(&steps, record_bytes_max, fsync)?;
    }
}
