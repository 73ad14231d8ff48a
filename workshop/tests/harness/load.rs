//! The unit tests of the load generator's report reader (load.rs): part of
//! tests/harness/.

use workshop::load::{Round, median, parse_wrk, parse_wrk_allowing};

const REPORT: &str = "Running 5s test @ http://127.0.0.1:8080/ping
  1 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   612.31us  301.02us   9.84ms   90.12%
    Req/Sec    52.10k     1.20k   54.00k    80.00%
  Latency Distribution
     50%  568.00us
     75%  701.00us
     90%  850.00us
     99%    1.70ms
  259321 requests in 5.00s, 25.23MB read
Requests/sec:  51843.21
Transfer/sec:      5.04MB
";

#[test]
fn reads_wrks_report() {
    let Round {
        requests_per_s,
        p50_ms,
        p99_ms,
    } = parse_wrk(REPORT).unwrap();
    assert_eq!(requests_per_s, 51843.21);
    assert!((p50_ms - 0.568).abs() < 1e-9, "p50 {p50_ms} ms");
    assert!((p99_ms - 1.70).abs() < 1e-9, "p99 {p99_ms} ms");
}

#[test]
fn refuses_a_round_with_errors() {
    let report = REPORT.replace(
        "Requests/sec",
        "  Socket errors: connect 0, read 3, write 0, timeout 0\nRequests/sec",
    );
    assert!(parse_wrk(&report).is_err());
}

/// One-request-per-connection rounds tolerate a stray socket error in a thousand
/// requests (3 of 259,321 here), not more (300 of them).
#[test]
fn a_new_connection_round_tolerates_a_stray_socket_error() {
    let errors = |read: u32| {
        REPORT.replace(
            "Requests/sec",
            &format!("  Socket errors: connect 0, read {read}, write 0, timeout 0\nRequests/sec"),
        )
    };
    assert!(parse_wrk_allowing(&errors(3), 0.001).is_ok());
    assert!(parse_wrk_allowing(&errors(300), 0.001).is_err());
    assert!(
        parse_wrk_allowing(
            &REPORT.replace(
                "Requests/sec",
                "  Non-2xx or 3xx responses: 1\nRequests/sec"
            ),
            0.001
        )
        .is_err()
    );
}

#[test]
fn the_median_round_and_the_spread() {
    let mut rates = [30.0, 10.0, 50.0, 20.0, 40.0];
    assert_eq!(median(&mut rates), 30.0);
    assert_eq!((rates[0], rates[4]), (10.0, 50.0));
}
