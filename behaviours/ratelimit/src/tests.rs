use proptest::prelude::*;

use super::*;

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

#[test]
fn a_source_gets_its_burst_then_one_per_period() {
    let mut limiter = PerSource::new(Config::default().with_burst(3).with_period(secs(10)));
    let t0 = Instant::now();
    for _ in 0..3 {
        assert!(limiter.check(1, t0).is_allowed());
    }
    for _ in 0..100 {
        assert_eq!(limiter.check(1, t0 + secs(9)), Verdict::Suppress);
    }
    assert_eq!(
        limiter.check(1, t0 + secs(10)),
        Verdict::Allow { suppressed: 100 }
    );
    assert_eq!(limiter.check(1, t0 + secs(11)), Verdict::Suppress);
    assert_eq!(limiter.suppressed_total(), 101);
}

#[test]
fn sources_are_limited_apart_but_share_the_global_budget() {
    let config = Config::default()
        .with_burst(1)
        .with_period(secs(60))
        .with_global(10, secs(1));
    let mut limiter = PerSource::new(config);
    let t0 = Instant::now();
    let allowed = (0..1000u32)
        .filter(|ip| limiter.check(*ip, t0).is_allowed())
        .count();
    assert_eq!(allowed, 10, "the global burst bounds a many-source flood");
    // A second later the global bucket holds one token again.
    assert!(limiter.check(5000, t0 + secs(1)).is_allowed());
    assert!(!limiter.check(5001, t0 + secs(1)).is_allowed());
}

#[test]
fn forgetting_a_source_lets_its_next_event_through() {
    let mut limiter = PerSource::new(Config::default().with_burst(1).with_period(secs(60)));
    let t0 = Instant::now();
    assert!(limiter.check("peer", t0).is_allowed());
    assert!(!limiter.check("peer", t0 + secs(1)).is_allowed());
    limiter.forget(&"peer");
    assert!(limiter.check("peer", t0 + secs(2)).is_allowed());
}

#[test]
fn the_least_recently_seen_source_makes_room() {
    let mut limiter = PerSource::new(
        Config::default()
            .with_burst(1)
            .with_period(secs(60))
            .with_max_sources(2),
    );
    let t0 = Instant::now();
    assert!(limiter.check("a", t0).is_allowed());
    assert!(limiter.check("b", t0 + secs(1)).is_allowed());
    assert!(!limiter.check("a", t0 + secs(2)).is_allowed()); // a is now the most recent
    assert!(limiter.check("c", t0 + secs(3)).is_allowed()); // b is forgotten
    assert_eq!(limiter.len(), 2);
    assert!(!limiter.check("a", t0 + secs(4)).is_allowed(), "a was kept");
}

proptest! {
    /// Whatever the sequence of events, a source never gets more than its burst plus one per
    /// elapsed period, the limiter never tracks more than its maximum, and every event is either
    /// allowed or counted as suppressed.
    #[test]
    fn no_source_exceeds_its_budget_and_nothing_goes_uncounted(
        events in prop::collection::vec((0u8..8, 0u64..2_000), 1..400),
        burst in 1u32..5,
        period_ms in 1u64..500,
        max_sources in 1usize..10,
    ) {
        let period = Duration::from_millis(period_ms);
        let config = Config::default()
            .with_burst(burst)
            .with_period(period)
            .with_global(u32::MAX, Duration::from_millis(1))
            .with_max_sources(max_sources);
        let mut limiter = PerSource::new(config);
        let t0 = Instant::now();
        let mut events = events;
        events.sort_by_key(|(_, at)| *at);
        let mut allowed: HashMap<u8, Vec<u64>> = HashMap::new();
        let (mut allowed_count, mut reported) = (0u64, 0u64);
        for (source, at) in &events {
            if let Verdict::Allow { suppressed } = limiter.check(*source, t0 + Duration::from_millis(*at)) {
                allowed.entry(*source).or_default().push(*at);
                allowed_count += 1;
                reported += suppressed;
            }
            prop_assert!(limiter.len() <= max_sources);
        }
        prop_assert_eq!(allowed_count + limiter.suppressed_total(), events.len() as u64);
        prop_assert!(reported <= limiter.suppressed_total());
        if max_sources >= 8 {
            // No source was ever forgotten: check each one's budget over every window.
            for times in allowed.values() {
                for (i, start) in times.iter().enumerate() {
                    for (j, end) in times.iter().enumerate().skip(i) {
                        let budget = u64::from(burst) + (end - start) / period_ms;
                        prop_assert!((j - i + 1) as u64 <= budget,
                            "{} events in {} ms", j - i + 1, end - start);
                    }
                }
            }
        }
    }

    /// A source's first event is always allowed while the global budget lasts.
    #[test]
    fn a_new_source_is_heard_at_once(sources in prop::collection::hash_set(any::<u32>(), 1..50)) {
        let mut limiter = PerSource::new(Config::default().with_burst(1).with_global(1000, secs(1)));
        let t0 = Instant::now();
        for source in sources {
            prop_assert_eq!(limiter.check(source, t0), Verdict::Allow { suppressed: 0 });
        }
    }
}
