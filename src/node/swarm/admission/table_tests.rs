use std::net::{IpAddr, Ipv4Addr};

use proptest::prelude::*;

use super::*;

fn ip(n: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, n))
}

fn table(capacity: usize, per_ip: usize) -> Table {
    Table::new(Limits { capacity, per_ip })
}

fn admitted(admission: Admission) -> (Ticket, Option<(Ticket, Eviction)>) {
    match admission {
        Admission::Admitted { ticket, evicted } => (ticket, evicted),
        Admission::Refused(why) => panic!("refused: {why:?}"),
    }
}

#[test]
fn an_ip_at_its_limit_pushes_out_its_own_oldest_silent_connection() {
    let mut t = table(64, 2);
    let (first, _) = admitted(t.admit(ip(2), false));
    let (second, _) = admitted(t.admit(ip(2), false));
    t.mark_spoken(first);
    let (_, evicted) = admitted(t.admit(ip(2), false));
    assert_eq!(
        evicted,
        Some((second, Eviction::SameIp)),
        "the silent one goes"
    );
    assert_eq!(t.pending(), (2, 0));
}

#[test]
fn an_ip_whose_connections_all_speak_gets_no_more() {
    let mut t = table(64, 2);
    for _ in 0..2 {
        let (ticket, _) = admitted(t.admit(ip(2), false));
        t.mark_spoken(ticket);
    }
    assert_eq!(t.admit(ip(2), false), Admission::Refused(Refused::PerIp));
    assert!(matches!(t.admit(ip(3), false), Admission::Admitted { .. }));
}

#[test]
fn a_full_table_evicts_silent_before_spoken_then_the_biggest_holder_then_the_oldest() {
    let mut t = table(4, 4);
    let (a, _) = admitted(t.admit(ip(1), false)); // will speak
    let (b, _) = admitted(t.admit(ip(2), false));
    let (c, _) = admitted(t.admit(ip(3), false));
    let (d, _) = admitted(t.admit(ip(3), false));
    t.mark_spoken(a);
    // Silent: b (ip 2 holds 1), c and d (ip 3 holds 2): the oldest of ip 3 goes.
    let (_, evicted) = admitted(t.admit(ip(4), false));
    assert_eq!(evicted, Some((c, Eviction::TableFull { holding: 2 })));
    // Silent: b, d, and the newcomer e (each IP holds 1): the oldest, b.
    let (_, evicted) = admitted(t.admit(ip(5), false));
    assert_eq!(evicted, Some((b, Eviction::TableFull { holding: 1 })));
    let _ = d;
}

#[test]
fn static_peers_ips_are_admitted_into_a_full_table_and_never_evicted() {
    let mut t = table(2, 2);
    let (exempt, _) = admitted(t.admit(ip(9), true));
    for n in 0..100 {
        let (_, evicted) = admitted(t.admit(ip(n % 50 + 10), false));
        assert_ne!(evicted.map(|e| e.0), Some(exempt));
    }
    assert!(matches!(
        t.admit(ip(9), true),
        Admission::Admitted { evicted: None, .. }
    ));
    assert_eq!(
        t.admit(ip(9), true),
        Admission::Refused(Refused::ExemptFull)
    );
    assert_eq!(t.pending(), (2, 2));
}

#[derive(Debug, Clone)]
enum Op {
    Arrive { ip: u8, exempt: bool },
    Speak(usize),
    Leave(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0u8..6, prop::bool::weighted(0.1)).prop_map(|(ip, exempt)| Op::Arrive { ip, exempt }),
        2 => any::<usize>().prop_map(Op::Speak),
        1 => any::<usize>().prop_map(Op::Leave),
    ]
}

proptest! {
    /// Whatever arrives, speaks and leaves: the bounds hold, exempt connections are never
    /// evicted, and a connection that spoke is never evicted while a silent stranger remains.
    #[test]
    fn the_bounds_hold_and_speakers_outlive_silent_strangers(
        ops in prop::collection::vec(op(), 1..300),
        capacity in 1usize..8,
        per_ip in 1usize..4,
    ) {
        let mut t = table(capacity, per_ip);
        // Our model: ticket -> (ip, exempt, spoken).
        let mut live: BTreeMap<Ticket, (u8, bool, bool)> = BTreeMap::new();
        for op in ops {
            match op {
                Op::Arrive { ip: n, exempt } => match t.admit(ip(n), exempt) {
                    Admission::Admitted { ticket, evicted } => {
                        if let Some((victim, why)) = evicted {
                            let (victim_ip, victim_exempt, victim_spoke) =
                                live.remove(&victim).expect("evicted a live connection");
                            prop_assert!(!victim_exempt);
                            prop_assert!(!exempt);
                            match why {
                                Eviction::SameIp => {
                                    prop_assert_eq!(victim_ip, n);
                                    prop_assert!(!victim_spoke);
                                }
                                Eviction::TableFull { .. } => {
                                    let silent_left = live.values().any(|(_, e, s)| !e && !s);
                                    prop_assert!(!victim_spoke || !silent_left);
                                }
                            }
                        }
                        live.insert(ticket, (n, exempt, false));
                    }
                    Admission::Refused(Refused::PerIp) => {
                        prop_assert!(live.values().filter(|(i, e, _)| *i == n && !e).all(|(_, _, s)| *s));
                    }
                    Admission::Refused(Refused::ExemptFull) => prop_assert!(exempt),
                },
                Op::Speak(i) if !live.is_empty() => {
                    let ticket = *live.keys().nth(i % live.len()).expect("index in range");
                    t.mark_spoken(ticket);
                    live.get_mut(&ticket).expect("live").2 = true;
                }
                Op::Leave(i) if !live.is_empty() => {
                    let ticket = *live.keys().nth(i % live.len()).expect("index in range");
                    t.release(ticket);
                    live.remove(&ticket);
                }
                _ => {}
            }
            let strangers = live.values().filter(|(_, e, _)| !e).count();
            let exempt = live.len() - strangers;
            prop_assert_eq!(t.pending(), (strangers, exempt));
            prop_assert!(strangers <= capacity && exempt <= capacity);
            for n in 0..6u8 {
                prop_assert!(live.values().filter(|(i, e, _)| *i == n && !e).count() <= per_ip);
            }
        }
    }
}
