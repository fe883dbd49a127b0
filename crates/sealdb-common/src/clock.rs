//! Wall-clock time, injectable so that expiry and scheduled work can be tested.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// A clock: the system clock, optionally shifted by a test-controlled offset.
#[derive(Clone, Debug, Default)]
pub struct Clock {
    offset_ms: Arc<AtomicI64>,
}

impl Clock {
    /// The system clock.
    pub fn system() -> Self {
        Clock::default()
    }

    /// Milliseconds since the Unix epoch.
    pub fn now_millis(&self) -> i64 {
        let sys = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
            .unwrap_or(0);
        sys.saturating_add(self.offset_ms.load(Ordering::Relaxed))
    }

    /// Seconds since the Unix epoch, as a float (the AWS JSON timestamp form).
    #[allow(clippy::cast_precision_loss)]
    pub fn now_epoch_seconds_f64(&self) -> f64 {
        self.now_millis() as f64 / 1000.0
    }

    /// Whole seconds since the Unix epoch.
    pub fn now_secs(&self) -> i64 {
        self.now_millis().div_euclid(1000)
    }

    /// Moves this clock (and all its clones) forward by `ms` milliseconds.
    pub fn advance_millis(&self, ms: i64) {
        self.offset_ms.fetch_add(ms, Ordering::Relaxed);
    }
}
