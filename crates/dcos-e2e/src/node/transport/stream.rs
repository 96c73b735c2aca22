//! One output stream of a started script, from the transport's reader task to whoever
//! consumes it.
//!
//! An unbounded stream never makes its reader wait, so a consumer cannot stall the
//! connection the reader serves (russh runs every channel of a connection in one loop).
//! A bounded one makes the reader wait while `limit` unread bytes are held: that is how
//! a process whose output nobody reads is paused, and it may only be used where the
//! waiting reader stalls nothing but that process.

use std::future::poll_fn;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use tokio::sync::{Semaphore, mpsc};

/// The sending half, held by a transport's reader task.
#[derive(Debug)]
pub(crate) struct StreamTx {
    tx: mpsc::UnboundedSender<Bytes>,
    budget: Option<Budget>,
}

/// The receiving half.
#[derive(Debug)]
pub(crate) struct StreamRx {
    rx: mpsc::UnboundedReceiver<Bytes>,
    budget: Option<Budget>,
}

/// Unread bytes still allowed, as semaphore permits.
#[derive(Clone, Debug)]
struct Budget {
    room: Arc<Semaphore>,
    limit: usize,
}

impl Budget {
    /// Permits a chunk costs; a chunk above the limit costs the whole limit, so it can
    /// always be sent once the stream is empty.
    fn cost(&self, len: usize) -> u32 {
        u32::try_from(len.min(self.limit)).unwrap_or(u32::MAX)
    }
}

/// A stream that holds any amount of unread output.
pub(crate) fn unbounded() -> (StreamTx, StreamRx) {
    make(None)
}

/// A stream whose sender waits while `limit` unread bytes are held.
pub(crate) fn bounded(limit: usize) -> (StreamTx, StreamRx) {
    make(Some(Budget {
        room: Arc::new(Semaphore::new(limit.clamp(1, u32::MAX as usize))),
        limit: limit.clamp(1, u32::MAX as usize),
    }))
}

fn make(budget: Option<Budget>) -> (StreamTx, StreamRx) {
    let (tx, rx) = mpsc::unbounded_channel();
    (
        StreamTx {
            tx,
            budget: budget.clone(),
        },
        StreamRx { rx, budget },
    )
}

impl StreamTx {
    /// Hand a chunk to the consumer. Waits only on a bounded stream that is full; a
    /// consumer that is gone wants no more output, and the chunk is dropped.
    pub(crate) async fn send(&self, chunk: Bytes) {
        if let Some(budget) = &self.budget {
            match budget.room.acquire_many(budget.cost(chunk.len())).await {
                // Given back by the receiver as it takes the chunk.
                Ok(permits) => permits.forget(),
                Err(_closed) => return,
            }
        }
        let _ = self.tx.send(chunk);
    }
}

impl StreamRx {
    /// A stream that has ended with nothing in it.
    pub(crate) fn ended() -> Self {
        let (_, rx) = unbounded();
        rx
    }

    pub(crate) fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<Bytes>> {
        let polled = self.rx.poll_recv(cx);
        if let (Poll::Ready(Some(chunk)), Some(budget)) = (&polled, &self.budget) {
            budget.room.add_permits(budget.cost(chunk.len()) as usize);
        }
        polled
    }

    pub(crate) async fn recv(&mut self) -> Option<Bytes> {
        poll_fn(|cx| self.poll_recv(cx)).await
    }
}

impl Drop for StreamRx {
    fn drop(&mut self) {
        // A sender waiting for room must not wait for a reader that is gone.
        if let Some(budget) = &self.budget {
            budget.room.close();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn unbounded_never_waits() {
        let (tx, mut rx) = unbounded();
        for _ in 0..10_000 {
            tx.send(Bytes::from_static(&[0; 1024])).await;
        }
        drop(tx);
        let mut n = 0;
        while let Some(c) = rx.recv().await {
            n += c.len();
        }
        assert_eq!(n, 10_000 * 1024);
    }

    #[tokio::test]
    async fn bounded_waits_for_the_reader_and_not_for_a_dropped_one() {
        let (tx, mut rx) = bounded(4);
        tx.send(Bytes::from_static(b"abcd")).await;
        let full = tx.send(Bytes::from_static(b"e"));
        tokio::pin!(full);
        assert!(
            futures_util::poll!(full.as_mut()).is_pending(),
            "full: the sender waits"
        );
        assert_eq!(rx.recv().await.as_deref(), Some(&b"abcd"[..]));
        full.await;
        assert_eq!(rx.recv().await.as_deref(), Some(&b"e"[..]));
        // A chunk above the limit still goes through once the stream is empty.
        tx.send(Bytes::from_static(b"0123456789")).await;
        let blocked = tx.send(Bytes::from_static(b"x"));
        tokio::pin!(blocked);
        assert!(futures_util::poll!(blocked.as_mut()).is_pending());
        drop(rx);
        blocked.await;
    }
}
