use playcore_snapshots::{
    corrupt_last_record, read_events, Corruption, Durability, Journal, Store, StoreError,
};

use crate::helpers::*;

#[test]
fn read_events_pages_through_the_log_from_any_position() -> TestResult {
    let directory = tempfile::tempdir()?;
    let store = Store::open(directory.path())?;
    let journal = Journal::start(store.clone(), config(Durability::Fsync, 200), 1);
    let mut expected = Vec::new();
    for _wave in 0..5 {
        expected.extend(append_many(&journal, 50)?);
        wait_all_durable(&journal)?;
    }

    let mut paged = Vec::new();
    let mut after_seq = 0;
    loop {
        let page = read_events(&store, after_seq, 64)?;
        assert!(page.len() <= 64);
        let Some(last) = page.last() else { break };
        after_seq = last.seq;
        paged.extend(as_tuples(&page));
    }
    assert_eq!(paged, expected);
    assert_eq!(
        as_tuples(&read_events(&store, 100, 10)?),
        expected[100..110].to_vec()
    );
    assert!(read_events(&store, 250, 10)?.is_empty());
    assert!(read_events(&store, 0, 0)?.is_empty());

    journal.truncate_below(120);
    assert!(eventually(|| journal.stats().records_truncated > 0));
    let first_page = read_events(&store, 0, 5)?;
    let first_seq = first_page.first().map_or(0, |event| event.seq);
    assert!(
        first_seq > 1 && first_seq <= 120,
        "starts at the oldest kept record"
    );
    journal.shutdown()?;
    Ok(())
}

#[test]
fn read_events_reports_a_corrupt_record() -> TestResult {
    let directory = tempfile::tempdir()?;
    with_journal(
        directory.path(),
        config(Durability::Fsync, 4096),
        1,
        |journal| append_many(journal, 10),
    )?;
    let store = Store::open(directory.path())?;
    corrupt_last_record(&store, Corruption::Garble)?;
    assert!(matches!(
        read_events(&store, 0, 100),
        Err(StoreError::Corrupt { .. })
    ));
    Ok(())
}
