//! CPU time spent inside each component: the thread CPU time of every poll
//! of an instance's instantiation and of its handler. A poll runs the guest
//! and the host functions it calls synchronously (variables, WASI); the
//! database statements and outbound HTTP run on other threads and do not
//! count. A loaded machine does not inflate it as it inflates wall time.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::task::{Context, Poll};
use std::time::Duration;

use rustix::time::{clock_gettime, ClockId};

fn thread_cpu_time() -> Duration {
    let t = clock_gettime(ClockId::ThreadCPUTime);
    Duration::new(
        u64::try_from(t.tv_sec).unwrap_or(0),
        u32::try_from(t.tv_nsec).unwrap_or(0),
    )
}

/// `inner`, adding the CPU time of its polls to `spent`.
pub struct CpuTimed<'a, F> {
    inner: Pin<Box<F>>,
    spent: &'a mut Duration,
}

impl<'a, F: Future> CpuTimed<'a, F> {
    pub fn new(inner: F, spent: &'a mut Duration) -> Self {
        Self {
            inner: Box::pin(inner),
            spent,
        }
    }
}

impl<F: Future> Future for CpuTimed<'_, F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let start = thread_cpu_time();
        let poll = self.inner.as_mut().poll(cx);
        *self.spent += thread_cpu_time().saturating_sub(start);
        poll
    }
}

/// What one component's instances cost, summed over its requests.
#[derive(Clone, Copy, Default, Debug, serde::Serialize)]
pub struct ComponentCost {
    pub requests: u64,
    /// Instantiating: a fresh instance from the pool, its memory initialised.
    pub instantiate_us: u64,
    /// The handler, until it returned (its whole response written).
    pub handle_us: u64,
    /// Variables asked for (`fermyon:spin/variables`), each a host call.
    pub variable_calls: u64,
}

/// Every component's cost since the last [`take`](CpuStats::take).
#[derive(Default)]
pub struct CpuStats(Mutex<BTreeMap<String, ComponentCost>>);

impl CpuStats {
    pub fn record(
        &self,
        component: &str,
        instantiate: Duration,
        handle: Duration,
        variable_calls: u64,
    ) {
        if let Ok(mut all) = self.0.lock() {
            let cost = all.entry(component.to_owned()).or_default();
            cost.requests += 1;
            cost.instantiate_us += micros(instantiate);
            cost.handle_us += micros(handle);
            cost.variable_calls += variable_calls;
        }
    }

    /// The costs so far, starting afresh.
    pub fn take(&self) -> BTreeMap<String, ComponentCost> {
        self.0
            .lock()
            .map(|mut all| std::mem::take(&mut *all))
            .unwrap_or_default()
    }
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}
