use super::*;

const S: Duration = Duration::from_secs(1);

fn hc(v: serde_json::Value) -> Healthcheck {
    serde_json::from_value(v).unwrap()
}

fn settings(v: serde_json::Value) -> Settings {
    Settings::of(Some(&hc(v))).unwrap()
}

fn check(code: i64) -> Check {
    Check {
        start: format!("start {code}"),
        end: "end".into(),
        exit_code: code,
        output: String::new(),
    }
}

fn starting() -> Health {
    at_start(
        Some(&hc(serde_json::json!({"Test": ["CMD", "true"]}))),
        None,
    )
    .unwrap()
}

#[test]
fn settings_take_dockers_defaults_and_forms() {
    let s = settings(serde_json::json!({"Test": ["CMD-SHELL", "curl -f x"]}));
    assert_eq!(s.interval, DEFAULT_INTERVAL);
    assert_eq!(s.timeout, DEFAULT_TIMEOUT);
    assert_eq!(s.start_period, Duration::ZERO);
    assert_eq!(s.start_interval, DEFAULT_START_INTERVAL);
    assert_eq!(s.retries, 3);
    assert_eq!(s.argv(&[]), ["/bin/sh", "-c", "curl -f x"]);
    assert_eq!(
        s.argv(&["/bin/bash".into(), "-ec".into()]),
        ["/bin/bash", "-ec", "curl -f x"]
    );
    let s = settings(
        serde_json::json!({"Test": ["CMD", "true", "x"], "Interval": 1_000_000_000,
        "Timeout": 0, "Retries": 0, "StartPeriod": 2_000_000_000, "StartInterval": 500_000_000}),
    );
    assert_eq!(s.argv(&[]), ["true", "x"]);
    assert_eq!(s.interval, S);
    assert_eq!(s.timeout, DEFAULT_TIMEOUT);
    assert_eq!(s.retries, 3);
    assert_eq!(s.start_period, 2 * S);
    assert_eq!(s.start_interval, S / 2);
    for none in [
        serde_json::json!({"Test": ["NONE"]}),
        serde_json::json!({"Test": []}),
        serde_json::json!({"Test": ["CMD"]}),
        serde_json::json!({"Test": ["WHAT", "x"]}),
        serde_json::json!({"Interval": 1}),
    ] {
        assert_eq!(Settings::of(Some(&hc(none.clone()))), None, "{none}");
    }
    assert_eq!(Settings::of(None), None);
}

#[test]
fn a_start_resets_the_status_and_keeps_the_log() {
    let cfg = hc(serde_json::json!({"Test": ["CMD", "true"]}));
    let mut h = starting();
    assert_eq!(h.status, Status::Starting);
    let s = Settings::of(Some(&cfg)).unwrap();
    record(&mut h, &s, S, check(1));
    record(&mut h, &s, S, check(1));
    record(&mut h, &s, S, check(1));
    assert_eq!((h.status, h.failing_streak), (Status::Unhealthy, 3));
    let mut stopped = Some(h.clone());
    at_stop(&mut stopped);
    let again = at_start(Some(&cfg), stopped).unwrap();
    assert_eq!((again.status, again.failing_streak), (Status::Starting, 0));
    assert_eq!(again.log.len(), 3);
    // No check: nothing changes (none stays none).
    let none = hc(serde_json::json!({"Test": ["NONE"]}));
    assert_eq!(at_start(Some(&none), None), None);
    assert_eq!(at_start(None, Some(h.clone())), Some(h));
}

#[test]
fn results_move_the_status_like_docker() {
    let s = settings(serde_json::json!({"Test": ["CMD", "x"], "Retries": 2}));
    let mut h = starting();
    assert!(!record(&mut h, &s, S, check(1)));
    assert_eq!((h.status, h.failing_streak), (Status::Starting, 1));
    assert!(record(&mut h, &s, S, check(0)));
    assert_eq!((h.status, h.failing_streak), (Status::Healthy, 0));
    assert!(!record(&mut h, &s, S, check(2)));
    assert_eq!((h.status, h.failing_streak), (Status::Healthy, 1));
    // Any non-zero code fails, the timeout's -1 too.
    assert!(record(&mut h, &s, S, check(-1)));
    assert_eq!((h.status, h.failing_streak), (Status::Unhealthy, 2));
    assert!(!record(&mut h, &s, S, check(1)));
    assert_eq!(h.failing_streak, 3);
    assert!(record(&mut h, &s, S, check(0)));
    assert_eq!(h.status, Status::Healthy);
}

#[test]
fn the_log_keeps_the_last_five() {
    let s = settings(serde_json::json!({"Test": ["CMD", "x"]}));
    let mut h = starting();
    for code in 0..8 {
        record(&mut h, &s, S, check(code));
    }
    let codes: Vec<i64> = h.log.iter().map(|c| c.exit_code).collect();
    assert_eq!(codes, [3, 4, 5, 6, 7]);
}

#[test]
fn failures_in_the_start_period_count_only_after_a_success() {
    let s = settings(serde_json::json!({"Test": ["CMD", "x"], "Retries": 1,
        "StartPeriod": 10_000_000_000i64}));
    let mut h = starting();
    for _ in 0..5 {
        assert!(!record(&mut h, &s, 2 * S, check(1)));
    }
    assert_eq!((h.status, h.failing_streak), (Status::Starting, 0));
    // Past the start period, a failure counts.
    assert!(record(&mut h, &s, 10 * S, check(1)));
    assert_eq!((h.status, h.failing_streak), (Status::Unhealthy, 1));
    // Once healthy, a failure inside the start period counts too.
    let mut h = starting();
    record(&mut h, &s, S, check(0));
    assert!(record(&mut h, &s, 2 * S, check(1)));
    assert_eq!(h.status, Status::Unhealthy);
}

#[test]
fn probes_come_every_start_interval_while_starting() {
    let s = settings(
        serde_json::json!({"Test": ["CMD", "x"], "Interval": 30_000_000_000i64,
        "StartPeriod": 10_000_000_000i64, "StartInterval": 1_000_000_000}),
    );
    assert_eq!(next_wait(&s, Duration::ZERO, Status::Starting), S);
    assert_eq!(next_wait(&s, 9 * S, Status::Starting), S);
    assert_eq!(next_wait(&s, 10 * S, Status::Starting), 30 * S);
    assert_eq!(next_wait(&s, 2 * S, Status::Healthy), 30 * S);
    // Without a start period, the interval from the start.
    let s = settings(serde_json::json!({"Test": ["CMD", "x"], "Interval": 2_000_000_000}));
    assert_eq!(next_wait(&s, Duration::ZERO, Status::Starting), 2 * S);
}

#[test]
fn output_is_capped_and_timeouts_read_as_dockers() {
    let mut o = Output::default();
    o.push(b"ok\n");
    assert_eq!(o.text(), "ok\n");
    o.push(&[b'x'; MAX_OUTPUT]);
    let t = o.text();
    assert_eq!(t.len(), MAX_OUTPUT + 3);
    assert!(t.starts_with("ok\nxx") && t.ends_with("x..."));
    assert_eq!(timed_out(S, ""), "Health check exceeded timeout (1s)");
    assert_eq!(
        timed_out(S / 2, "partial"),
        "Health check exceeded timeout (500ms): partial"
    );
}

#[test]
fn durations_print_as_go_does() {
    for (d, want) in [
        (Duration::ZERO, "0s"),
        (Duration::from_nanos(100), "100ns"),
        (Duration::from_micros(1500), "1.5ms"),
        (Duration::from_micros(2), "2µs"),
        (Duration::from_millis(500), "500ms"),
        (S, "1s"),
        (Duration::from_millis(1500), "1.5s"),
        (60 * S, "1m0s"),
        (90 * S, "1m30s"),
        (3600 * S, "1h0m0s"),
        (3723 * S, "1h2m3s"),
    ] {
        assert_eq!(go_duration(d), want);
    }
}

#[test]
fn the_users_check_is_merged_over_the_images() {
    let image =
        hc(serde_json::json!({"Test": ["CMD", "img"], "Interval": 5, "Retries": 4, "Timeout": 7}));
    assert_eq!(merge(None, Some(&image)), Some(image.clone()));
    let user = hc(serde_json::json!({"Interval": 9, "Timeout": 0}));
    let m = merge(Some(user), Some(&image)).unwrap();
    assert_eq!(m.test, Some(vec!["CMD".into(), "img".into()]));
    assert_eq!(
        (m.interval, m.timeout, m.retries),
        (Some(9), Some(7), Some(4))
    );
    // --no-healthcheck wins over the image's.
    let none = hc(serde_json::json!({"Test": ["NONE"]}));
    let m = merge(Some(none), Some(&image)).unwrap();
    assert_eq!(Settings::of(Some(&m)), None);
    assert_eq!(merge(None, None), None);
}

#[test]
fn bad_values_are_refused_with_dockers_messages() {
    assert!(validate(&hc(serde_json::json!({"Interval": 0, "Retries": 0}))).is_ok());
    assert_eq!(
        validate(&hc(serde_json::json!({"Interval": 5}))).unwrap_err(),
        "Interval in Healthcheck cannot be less than 1ms"
    );
    assert_eq!(
        validate(&hc(serde_json::json!({"StartInterval": 999_999}))).unwrap_err(),
        "StartInterval in Healthcheck cannot be less than 1ms"
    );
    assert_eq!(
        validate(&hc(serde_json::json!({"Retries": -1}))).unwrap_err(),
        "Retries in Healthcheck cannot be negative"
    );
}

#[test]
fn the_column_and_the_filter_read_the_status() {
    let mut h = starting();
    assert_eq!(column(&h), "health: starting");
    assert_eq!(filter_value(Some(&h)), "starting");
    h.status = Status::Healthy;
    assert_eq!(column(&h), "healthy");
    assert_eq!(filter_value(None), "none");
    let v = serde_json::to_value(&h).unwrap();
    assert_eq!(v["Status"], "healthy");
    assert_eq!(v["FailingStreak"], 0);
    assert_eq!(v["Log"], serde_json::json!([]));
}
