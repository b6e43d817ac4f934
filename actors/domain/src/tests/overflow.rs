//! Stock, counts and money never wrap: overflow checks are on for this crate in every
//! profile (the root Cargo.toml), so `cargo test --release` runs these with them too.

use super::*;

/// A state whose money taken is one cent below the largest amount.
fn nearly_full_gmv() -> ActivityState {
    let mut state = flash_sale(10, 1);
    state.counts.gmv_cents = u64::MAX - 1;
    state
}

#[test]
#[should_panic(expected = "overflow")]
fn money_taken_never_wraps() {
    let mut state = nearly_full_gmv();
    ok(&mut state, grab("u1", "r1", 1), START);
    ok(&mut state, notify(1, "T1", PRICE), START);
}

#[test]
#[should_panic(expected = "overflow")]
fn a_units_count_never_wraps() {
    let mut state = flash_sale(10, 1);
    state.stock.reserved = u64::MAX;
    ok(&mut state, grab("u1", "r1", 1), START);
}

#[test]
#[should_panic(expected = "overflow")]
fn stock_never_goes_below_zero() {
    let mut state = flash_sale(10, 1);
    ok(&mut state, grab("u1", "r1", 1), START);
    state.stock.reserved = 0;
    ok(&mut state, cancel(1, "u1"), START);
}

#[test]
fn the_checks_are_on_in_this_build() {
    let wrapped = std::panic::catch_unwind(|| std::hint::black_box(u32::MAX) + 1);
    assert!(wrapped.is_err(), "u32::MAX + 1 panics even in release");
}
