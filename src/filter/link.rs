//! What a root context shares with the request contexts it creates: the batcher their claims
//! and settlements go into, the root's wake-up queue, whether the root still sends, and the
//! VM's claim tokens. Generic over the waiter (what a claim's answer goes back to), so that
//! it depends on neither the root nor the request.

use std::cell::{Cell, RefCell};

use crate::dedupe::batch::Batcher;
use crate::dedupe::client::Tokens;

pub struct Link<W> {
    pub batcher: RefCell<Batcher<W>>,
    /// The root's wake-up queue.
    pub wake: Cell<Option<u32>>,
    /// The root still sends what it is handed: false once it ended.
    pub open: Cell<bool>,
    /// The claim tokens of this VM.
    pub tokens: Tokens,
}

impl<W> Default for Link<W> {
    fn default() -> Self {
        Link {
            batcher: RefCell::new(Batcher::default()),
            wake: Cell::new(None),
            open: Cell::new(false),
            tokens: Tokens::default(),
        }
    }
}
