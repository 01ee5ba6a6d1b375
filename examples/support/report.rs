//! The one JSON line the benchmark's timers print (bench/compare.py
//! reads it): runs per second over the whole run, and p50/p99 of one run
//! in ms.

use std::time::Duration;

pub fn print(mut times: Vec<Duration>, total: Duration) {
    times.sort();
    let pct = |q: f64| {
        let i = ((times.len() as f64 * q) as usize).min(times.len() - 1);
        times[i].as_secs_f64() * 1000.0
    };
    println!(
        "{{\"rate\": {:.1}, \"p50\": {:.3}, \"p99\": {:.3}}}",
        times.len() as f64 / total.as_secs_f64(),
        pct(0.5),
        pct(0.99)
    );
}
