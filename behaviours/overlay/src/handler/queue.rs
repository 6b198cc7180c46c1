//! [`Budget`]: the bound of one link's send queue, in frames and bytes.

use std::sync::atomic::{AtomicUsize, Ordering};

/// The send queue's bound, shared between the behaviour (which reserves room before handing a
/// frame over, so a full queue is known at once) and the handler (which frees it once written).
#[derive(Debug)]
pub(crate) struct Budget {
    frames: AtomicUsize,
    bytes: AtomicUsize,
    max_frames: usize,
    max_bytes: usize,
    /// Bytes relayed flood copies may fill: half the queue, but at least one largest frame.
    flood_bytes: usize,
}

impl Budget {
    pub(crate) fn new(max_frames: usize, max_bytes: usize, largest_frame: usize) -> Self {
        Budget {
            frames: AtomicUsize::new(0),
            bytes: AtomicUsize::new(0),
            max_frames,
            max_bytes,
            flood_bytes: (max_bytes / 2).max(largest_frame).min(max_bytes),
        }
    }

    /// Takes room for one frame of `bytes`; false if the queue is full (for a relayed `flood`
    /// copy, if it would fill more than the flood share). Only the behaviour reserves and only
    /// the handler releases, so a check then add cannot overshoot.
    pub(crate) fn try_reserve(&self, bytes: usize, flood: bool) -> bool {
        let (max_frames, max_bytes) = if flood {
            (self.max_frames / 2, self.flood_bytes)
        } else {
            (self.max_frames, self.max_bytes)
        };
        if self.frames.load(Ordering::Acquire) >= max_frames.max(1)
            || self.bytes.load(Ordering::Acquire) + bytes > max_bytes
        {
            return false;
        }
        self.frames.fetch_add(1, Ordering::AcqRel);
        self.bytes.fetch_add(bytes, Ordering::AcqRel);
        true
    }

    pub(super) fn release(&self, frames: usize, bytes: usize) {
        self.frames.fetch_sub(frames, Ordering::AcqRel);
        self.bytes.fetch_sub(bytes, Ordering::AcqRel);
    }

    /// Whether a frame of `bytes` would fit now.
    pub(crate) fn has_room(&self, bytes: usize) -> bool {
        self.frames.load(Ordering::Acquire) < self.max_frames
            && self.bytes.load(Ordering::Acquire) + bytes <= self.max_bytes
    }

    /// Gives back all room (the link is gone).
    pub(super) fn release_all(&self) {
        self.frames.store(0, Ordering::Release);
        self.bytes.store(0, Ordering::Release);
    }

    /// Bytes queued now.
    pub(crate) fn queued_bytes(&self) -> usize {
        self.bytes.load(Ordering::Acquire)
    }
}
