//! A host that records what the filter does and answers what a test sets up.

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::rc::Rc;
use std::time::Duration;

use super::host::Host;
use crate::request::headers::SerializedMap;

#[derive(Clone, Default)]
pub struct Fake(pub Rc<RefCell<State>>);

/// A local reply: status, headers, body.
pub type Reply = (u32, Vec<(String, String)>, Vec<u8>);

#[derive(Default)]
pub struct State {
    pub request_headers: Vec<(String, Vec<u8>)>,
    pub request_trailers: Vec<(String, Vec<u8>)>,
    pub body: Vec<u8>,
    /// Reads of the request body (whole or a part).
    pub body_reads: usize,
    pub response_status: Vec<u8>,
    /// Properties by dotted path (`response.flags`).
    pub properties: HashMap<String, Vec<u8>>,
    pub now: Duration,
    /// Reads of the clock.
    pub clock_reads: usize,
    pub replies: Vec<Reply>,
    pub resumed: usize,
    /// HTTP calls: `:path` and body.
    pub calls: Vec<(String, Vec<u8>)>,
    pub dispatch_fails: bool,
    pub call_status: Option<Vec<u8>>,
    pub call_body: Vec<u8>,
    /// Shared queues by id - 1 (ids in the order their names were first registered).
    pub queue_names: Vec<String>,
    pub queues: HashMap<u32, VecDeque<Vec<u8>>>,
    pub queue_registered: bool,
    /// Every `set_effective_context`, in order.
    pub effective: Vec<u32>,
    /// Context ids `set_effective_context` refuses (gone).
    pub gone: Vec<u32>,
    /// Set once the response's status was read: request headers are then off limits, as in
    /// Envoy, where the SDK's hostcalls panic on them.
    pub response_started: bool,
    /// Metric names by id - 1.
    pub metric_names: Vec<String>,
    pub counts: HashMap<u32, u64>,
    pub random: Option<[u8; 16]>,
    pub tick_period: Duration,
    /// Request contexts created so far (the tests number them).
    pub next_context: u32,
    pub configuration: Vec<u8>,
}

impl Fake {
    pub fn new() -> Fake {
        let fake = Fake::default();
        fake.0.borrow_mut().random = Some([0xab; 16]);
        fake
    }

    pub fn st(&self) -> std::cell::RefMut<'_, State> {
        self.0.borrow_mut()
    }

    /// A metric's count by its name (0 if never incremented).
    pub fn count(&self, name: &str) -> u64 {
        let st = self.0.borrow();
        st.metric_names
            .iter()
            .position(|n| n == name)
            .and_then(|i| st.counts.get(&(i as u32 + 1)))
            .copied()
            .unwrap_or(0)
    }

    pub fn header(&self, name: &str) -> Option<Vec<u8>> {
        self.0
            .borrow()
            .request_headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    }

    /// Panics, as the SDK does in Envoy, on a request-header call during the response.
    fn request_phase(&self) {
        assert!(
            !self.0.borrow().response_started,
            "request headers touched during the response"
        );
    }

    /// A shared queue's id by name (0: never registered).
    pub fn queue_id(&self, name: &str) -> u32 {
        let st = self.0.borrow();
        st.queue_names
            .iter()
            .position(|n| n == name)
            .map_or(0, |i| i as u32 + 1)
    }

    /// The messages on the claim-outcome queue, as text, oldest first.
    pub fn queued(&self) -> Vec<String> {
        let id = self.queue_id(super::root::OUTCOME_QUEUE);
        self.0
            .borrow()
            .queues
            .get(&id)
            .map(|q| {
                q.iter()
                    .map(|m| String::from_utf8_lossy(m).into_owned())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Messages waiting on queue `id`.
    pub fn waiting(&self, id: u32) -> usize {
        self.0.borrow().queues.get(&id).map_or(0, VecDeque::len)
    }
}

impl Host for Fake {
    fn request_headers(&self) -> SerializedMap {
        self.request_phase();
        encode(&self.0.borrow().request_headers)
    }

    fn request_header(&self, name: &str) -> Option<Vec<u8>> {
        self.request_phase();
        self.header(name)
    }

    fn remove_request_header(&self, name: &[u8]) {
        self.request_phase();
        let name = String::from_utf8_lossy(name);
        self.0
            .borrow_mut()
            .request_headers
            .retain(|(n, _)| *n != name);
    }

    fn request_trailers(&self) -> SerializedMap {
        encode(&self.0.borrow().request_trailers)
    }

    fn remove_request_trailer(&self, name: &[u8]) {
        let name = String::from_utf8_lossy(name);
        self.0
            .borrow_mut()
            .request_trailers
            .retain(|(n, _)| *n != name);
    }

    /// As Envoy does: a second value when the name is there already.
    fn add_request_header(&self, name: &str, value: &[u8]) {
        self.request_phase();
        let mut st = self.0.borrow_mut();
        st.request_headers.push((name.to_string(), value.to_vec()));
    }

    fn request_body_at(&self, start: usize, size: usize) -> Vec<u8> {
        let mut st = self.0.borrow_mut();
        st.body_reads += 1;
        let start = start.min(st.body.len());
        let end = start.saturating_add(size).min(st.body.len());
        st.body[start..end].to_vec()
    }

    fn response_status(&self) -> Vec<u8> {
        let mut st = self.0.borrow_mut();
        st.response_started = true;
        st.response_status.clone()
    }

    fn property(&self, path: &[&str]) -> Vec<u8> {
        self.0
            .borrow()
            .properties
            .get(&path.join("."))
            .cloned()
            .unwrap_or_default()
    }

    fn now(&self) -> Duration {
        let mut st = self.0.borrow_mut();
        st.clock_reads += 1;
        st.now
    }

    fn send_reply(&self, status: u32, headers: &[(&str, &str)], body: &[u8]) -> Result<(), String> {
        let headers = headers
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect();
        self.0
            .borrow_mut()
            .replies
            .push((status, headers, body.to_vec()));
        Ok(())
    }

    fn resume_request(&self) {
        self.0.borrow_mut().resumed += 1;
    }

    fn dispatch(
        &self,
        _cluster: &str,
        headers: &[(&str, &str)],
        body: &[u8],
        _timeout: Duration,
    ) -> Result<u32, String> {
        let mut st = self.0.borrow_mut();
        if st.dispatch_fails {
            return Err("BadArgument".into());
        }
        let path = headers
            .iter()
            .find(|(n, _)| *n == ":path")
            .map(|(_, v)| v.to_string())
            .unwrap_or_default();
        st.calls.push((path, body.to_vec()));
        Ok(st.calls.len() as u32)
    }

    fn call_status(&self, num_headers: usize) -> Option<Vec<u8>> {
        if num_headers == 0 {
            return None;
        }
        self.0.borrow().call_status.clone()
    }

    fn call_body(&self, size: usize) -> Vec<u8> {
        let st = self.0.borrow();
        st.call_body[..size.min(st.call_body.len())].to_vec()
    }

    fn register_queue(&self, name: &str) -> Option<u32> {
        let id = self.queue_id(name);
        let mut st = self.0.borrow_mut();
        st.queue_registered = true;
        if id > 0 {
            return Some(id);
        }
        st.queue_names.push(name.to_string());
        Some(st.queue_names.len() as u32)
    }

    fn enqueue(&self, queue: u32, message: &[u8]) -> bool {
        let mut st = self.0.borrow_mut();
        if queue == 0 || queue as usize > st.queue_names.len() {
            return false;
        }
        st.queues
            .entry(queue)
            .or_default()
            .push_back(message.to_vec());
        true
    }

    fn dequeue(&self, queue: u32) -> Option<Vec<u8>> {
        self.0.borrow_mut().queues.get_mut(&queue)?.pop_front()
    }

    /// As in Envoy, a name defined again (by another root) is the same metric.
    fn define_metric(&self, _kind: crate::metrics::Kind, name: &str) -> u32 {
        let mut st = self.0.borrow_mut();
        if let Some(i) = st.metric_names.iter().position(|n| n == name) {
            return i as u32 + 1;
        }
        st.metric_names.push(name.to_string());
        st.metric_names.len() as u32
    }

    fn increment(&self, metric: u32) {
        *self.0.borrow_mut().counts.entry(metric).or_insert(0) += 1;
    }

    /// A gauge's value (a histogram's last sample), read with `count`.
    fn record(&self, metric: u32, value: u64) {
        self.0.borrow_mut().counts.insert(metric, value);
    }

    fn set_tick_period(&self, period: Duration) {
        self.0.borrow_mut().tick_period = period;
    }

    fn random(&self) -> Option<[u8; 16]> {
        self.0.borrow().random
    }

    fn configuration(&self) -> Vec<u8> {
        self.0.borrow().configuration.clone()
    }

    fn env(&self, _name: &str) -> Option<String> {
        None
    }

    fn set_effective_context(&self, context_id: u32) -> bool {
        let mut st = self.0.borrow_mut();
        st.effective.push(context_id);
        !st.gone.contains(&context_id)
    }
}

/// A header list as the host serialises a map.
fn encode(list: &[(String, Vec<u8>)]) -> SerializedMap {
    SerializedMap::encode(list.iter().map(|(n, v)| (n.as_bytes(), v.as_slice())))
}
