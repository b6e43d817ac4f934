//! Corruption tests: damage the last journal record of a stopped server (garbled bytes or
//! a torn write), restart it, and check that recovery detects and cuts the tail (one error
//! line in the log) and that the server then serves with its stock conserved.

mod common;

use common::{assert_conservation, orders_per_user, stock, Api, Server, TestDir};
use playcore_snapshots::{corrupt_last_record, Corruption, Store};

const GRABS: usize = 12;

/// An order a 2xx reply confirmed, in confirmation order.
#[derive(Debug)]
struct Confirmed {
    order_id: String,
    user: String,
    status: &'static str,
}

fn corrupted_tail_is_cut_and_the_server_serves(how: Corruption, prefix: &str) {
    let dir = TestDir::new(prefix);
    let data_dir = dir.data_dir();
    let mut server = Server::start(&data_dir, &dir.path().join("run-0.log"));
    let api = Api::new(&server);
    let activity = api.open_flash_sale(50, 1, 300);

    let mut confirmed: Vec<Confirmed> = Vec::new();
    for n in 0..GRABS {
        let user = format!("user-{n}");
        let answer = api
            .grab(&activity, &user, &format!("request-{n}"))
            .expect("the grab reaches the server");
        assert_eq!(answer.status, 201, "grab {n}: {answer:?}");
        let order_id = answer.data()["orderId"]
            .as_str()
            .expect("an orderId")
            .to_owned();
        let mut status = "PENDING_PAY";
        // Pay some, but never the last order: the last action before the stop is a grab.
        if n % 3 == 0 && n + 1 < GRABS {
            let paid = api
                .pay(&order_id, &user)
                .expect("the pay reaches the server");
            assert_eq!(paid.status, 200, "pay {order_id}: {paid:?}");
            status = "PAID";
        }
        confirmed.push(Confirmed {
            order_id,
            user,
            status,
        });
    }

    let exit = server.terminate();
    assert!(
        exit.success(),
        "graceful stop failed: {exit}; log:\n{}",
        server.log()
    );
    {
        let store = Store::open(&data_dir).expect("the stopped server's store opens");
        corrupt_last_record(&store, how).expect("the last journal record is corrupted");
    } // The store is dropped (sled closed) before the server opens it again.

    let server = Server::start(&data_dir, &dir.path().join("run-1.log"));
    let log = server.log();
    let cut_line = log
        .lines()
        .find(|line| line.contains("journal tail corrupt") && line.contains("cutting"));
    assert!(
        cut_line.is_some_and(|line| line.contains("ERROR")),
        "recovery did not report cutting the corrupt tail; log:\n{log}"
    );

    let api = Api::new(&server);
    let activity_answer = api
        .get(&format!("/api/v1/activities/{activity}"))
        .expect("GET activity reaches the server");
    assert_eq!(
        activity_answer.status, 200,
        "GET activity: {activity_answer:?}"
    );
    assert_eq!(activity_answer.data()["id"], activity.as_str());

    // Only the corrupted record is lost, and it held at most the last action (a grab):
    // every earlier confirmed order is there as confirmed; the last one is there as
    // confirmed or not at all.
    let (last, earlier) = confirmed.split_last().expect("orders were confirmed");
    for order in earlier {
        let answer = api.order(&order.order_id);
        assert_eq!(answer.status, 200, "{order:?} lost: {answer:?}");
        assert_eq!(
            answer.data()["userId"],
            order.user.as_str(),
            "{order:?}: {answer:?}"
        );
        assert_eq!(
            answer.data()["status"],
            order.status,
            "{order:?}: {answer:?}"
        );
    }
    let answer = api.order(&last.order_id);
    if answer.status == 200 {
        assert_eq!(
            answer.data()["userId"],
            last.user.as_str(),
            "{last:?}: {answer:?}"
        );
        assert_eq!(answer.data()["status"], last.status, "{last:?}: {answer:?}");
    } else {
        assert_eq!(answer.status, 404, "{last:?}: {answer:?}");
    }

    let (stats, orders) = api.consistent_view(&activity);
    assert_conservation(&stats, "after the cut");
    let (_, _, reserved, sold) = stock(&stats);
    let count = |wanted: &str| {
        orders
            .iter()
            .filter(|order| order["status"] == wanted)
            .count() as u64
    };
    assert_eq!(
        reserved,
        count("PENDING_PAY"),
        "reserved vs PENDING_PAY orders: {stats}"
    );
    assert_eq!(sold, count("PAID"), "sold vs PAID orders: {stats}");
    assert!(
        orders_per_user(&orders)
            .values()
            .all(|held| held.len() == 1),
        "a user holds two orders: {orders:?}"
    );

    let fresh = api
        .grab(&activity, "user-after-cut", "request-after-cut")
        .expect("the grab reaches the server");
    assert_eq!(fresh.status, 201, "a grab after the cut: {fresh:?}");
    let stats_after = api.stats(&activity);
    assert_conservation(&stats_after, "after a new grab");
    assert_eq!(
        stock(&stats_after).2,
        reserved + 1,
        "the new grab reserved one unit: {stats} then {stats_after}"
    );
    println!(
        "{:?}: {}; last order {}",
        how,
        cut_line.unwrap_or_default().trim(),
        if answer.status == 200 {
            "kept"
        } else {
            "lost with the cut record"
        }
    );
}

#[test]
fn garbled_journal_tail_is_cut_and_the_server_serves() {
    corrupted_tail_is_cut_and_the_server_serves(Corruption::Garble, "playcore-garble-");
}

#[test]
fn torn_journal_tail_is_cut_and_the_server_serves() {
    corrupted_tail_is_cut_and_the_server_serves(Corruption::Truncate, "playcore-torn-");
}
