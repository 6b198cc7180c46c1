use super::*;

#[test]
fn addresses_keep_their_text_and_know_their_multiaddr() {
    let address: Address = " 127.0.0.1:30300 ".parse().unwrap();
    assert_eq!(address.as_str(), "127.0.0.1:30300");
    assert_eq!(address.multiaddr().to_string(), "/ip4/127.0.0.1/tcp/30300");
    assert_eq!(address.to_string(), "127.0.0.1:30300");
}

#[test]
fn socket_addresses_convert_as_if_parsed() {
    for text in ["127.0.0.1:30300", "[::1]:7"] {
        let socket: SocketAddr = text.parse().unwrap();
        assert_eq!(Address::from(socket), text.parse::<Address>().unwrap());
    }
}

#[test]
fn durations_read_as_written_and_zero_is_refused() {
    assert_eq!(parse_duration("5s").unwrap(), Duration::from_secs(5));
    assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
    assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
    assert_eq!(parse_duration("1m 30s").unwrap(), Duration::from_secs(90));
    assert!(parse_duration("0s").unwrap_err().contains("zero"));
    for bad in ["5", "five seconds", "5 parsecs", ""] {
        let error = parse_duration(bad).unwrap_err();
        assert!(error.contains("\"500ms\""), "{bad}: {error}");
    }
}

#[test]
fn a_duration_out_of_its_range_names_the_value_and_the_range() {
    let range = DurationRange {
        min: Duration::from_millis(100),
        max: Duration::from_secs(600),
    };
    assert_eq!(range.parse("1s").unwrap(), Duration::from_secs(1));
    let error = range.parse("1ns").unwrap_err();
    assert!(
        error.contains("\"1ns\"") && error.contains("100ms to 10m"),
        "{error}"
    );
    assert!(range.parse("11m").is_err());
}

#[test]
fn formatted_durations_parse_back_to_the_same_value() {
    for millis in [1, 100, 999, 1000, 1500, 60_000, 90_500, 3_600_000] {
        let duration = Duration::from_millis(millis);
        assert_eq!(
            parse_duration(&format_duration(duration)).unwrap(),
            duration
        );
    }
}

#[test]
fn topics_must_be_short_printable_and_not_blank() {
    assert!(check_topic("orders").is_ok());
    assert!(check_topic("订单/2024").is_ok());
    assert!(check_topic("  ").is_err());
    assert!(check_topic("a\nb").is_err());
    assert!(check_topic("a\tb")
        .unwrap_err()
        .contains("control character"));
    assert!(check_topic(&"x".repeat(MAX_TOPIC_LEN)).is_ok());
    assert!(check_topic(&"x".repeat(MAX_TOPIC_LEN + 1)).is_err());
}

#[test]
fn admin_is_an_ip_and_port_not_a_host_name() {
    assert_eq!(parse_admin("127.0.0.1:31300").unwrap().port(), 31300);
    assert!(parse_admin("[::1]:1").unwrap().ip().is_loopback());
    assert!(parse_admin("localhost:1")
        .unwrap_err()
        .contains("127.0.0.1:31300"));
}
