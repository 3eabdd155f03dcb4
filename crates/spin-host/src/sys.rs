//! The clock, the log and randomness, read straight from the WASI 0.2
//! interfaces rather than through Rust's std.
//!
//! A wasm32-wasip1 module reaches WASI 0.2 through the preview-1 adapter
//! Spin wraps around it. The adapter's first call that needs its state
//! (`clock_time_get`, `random_get`, `fd_write`: std's `SystemTime`,
//! `Instant`, `RandomState`, `println!`) allocates that state, 128 KiB of
//! fresh pages, in every instance, and every request gets a fresh instance.
//! These ports make none of those calls: the instance that serves a
//! request never sets the adapter's state up (issue 27).

use std::time::Duration;

use chrono::{DateTime, Utc};
use todo_core::ports::{Clock, Log};
use wasi::clocks::{monotonic_clock, wall_clock};
use wasi::io::streams::{OutputStream, StreamError};

/// WASI's wall and monotonic clocks.
pub struct WasiClock;

impl Clock for WasiClock {
    fn now(&self) -> DateTime<Utc> {
        let now = wall_clock::now();
        // Out of range only past the year 262,000.
        DateTime::from_timestamp(now.seconds as i64, now.nanoseconds).unwrap_or_default()
    }

    /// Waits on a monotonic-clock timer: the instance waits, using no CPU.
    fn sleep(&self, duration: Duration) {
        let nanos = u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX);
        monotonic_clock::subscribe_duration(nanos).block();
    }

    fn monotonic(&self) -> Duration {
        Duration::from_nanos(monotonic_clock::now())
    }
}

/// The component's standard output, which Spin keeps per component.
pub struct WasiStdout;

impl Log for WasiStdout {
    fn line(&self, line: &str) {
        // A log line that cannot be written is dropped, where println!
        // would panic.
        let _ = write_all(
            &wasi::cli::stdout::get_stdout(),
            format!("{line}\n").as_bytes(),
        );
    }
}

/// The most `blocking-write-and-flush` takes in one call (WASI 0.2's
/// `wasi:io/streams`; a host traps on more).
const ONE_CALL_BYTES: usize = 4096;

/// Writes `bytes` and waits for them to be flushed. Up to
/// [`ONE_CALL_BYTES`] (an access-log line, most answers) that is one host
/// call, `blocking-write-and-flush`, where checking, writing, flushing and
/// checking again took four. More is written as much at a time as the host
/// takes and flushed once at the end, as spin-sdk's body sink does: a
/// blocking flush after every 4 KiB made a list of 50 wait on the host five
/// times.
pub(crate) fn write_all(stream: &OutputStream, mut bytes: &[u8]) -> Result<(), StreamError> {
    if bytes.len() <= ONE_CALL_BYTES {
        return stream.blocking_write_and_flush(bytes);
    }
    while !bytes.is_empty() {
        match usize::try_from(stream.check_write()?).unwrap_or(usize::MAX) {
            0 => stream.subscribe().block(),
            permitted => {
                let (now, later) = bytes.split_at(permitted.min(bytes.len()));
                stream.write(now)?;
                bytes = later;
            }
        }
    }
    stream.flush()?;
    while stream.check_write()? == 0 {
        stream.subscribe().block();
    }
    Ok(())
}

/// getrandom's source of randomness on wasm32-wasip1, chosen by
/// `.cargo/config.toml` (`getrandom_backend="custom"`): WASI 0.2's random
/// interface instead of preview 1's `random_get`.
///
/// # Safety
/// getrandom calls it with `dest` valid for `len` bytes.
#[cfg(target_arch = "wasm32")]
#[no_mangle]
unsafe extern "Rust" fn __getrandom_v03_custom(
    dest: *mut u8,
    len: usize,
) -> Result<(), getrandom::Error> {
    let bytes = wasi::random::random::get_random_bytes(len as u64);
    // SAFETY: the host returns exactly `len` bytes; `dest` holds `len`.
    unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), dest, len.min(bytes.len())) };
    if bytes.len() == len {
        Ok(())
    } else {
        Err(getrandom::Error::UNEXPECTED)
    }
}
