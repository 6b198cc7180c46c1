use std::{
    pin::Pin,
    task::{Context, Poll},
};

use futures::{executor::block_on, io::Cursor};
use proptest::prelude::*;

use super::*;

/// Serves `data` at most `step` bytes per read, and fails the test if asked for anything past it.
struct NoMoreThan {
    data: Vec<u8>,
    pos: usize,
    step: usize,
}

impl NoMoreThan {
    fn new(data: Vec<u8>) -> Self {
        Self::in_steps(data, usize::MAX)
    }

    fn in_steps(data: Vec<u8>, step: usize) -> Self {
        NoMoreThan { data, pos: 0, step }
    }
}

impl AsyncRead for NoMoreThan {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        assert!(self.pos < self.data.len(), "read past the data served");
        let n = buf.len().min(self.step).min(self.data.len() - self.pos);
        let pos = self.pos;
        buf[..n].copy_from_slice(&self.data[pos..pos + n]);
        self.pos += n;
        Poll::Ready(Ok(n))
    }
}

fn framed(body: &[u8]) -> Vec<u8> {
    let mut wire = Cursor::new(Vec::new());
    block_on(write_frame(&mut wire, &[body], MAX_FRAME_LEN)).expect("writes");
    wire.into_inner()
}

fn prefix(len: u32) -> Vec<u8> {
    len.to_be_bytes().to_vec()
}

#[test]
fn a_frame_is_a_big_endian_length_then_the_parts_in_order() {
    let mut wire = Cursor::new(Vec::new());
    block_on(write_frame(&mut wire, &[b"ab", b"", b"cde"], 5)).expect("writes");
    assert_eq!(
        wire.into_inner(),
        [0, 0, 0, 5, b'a', b'b', b'c', b'd', b'e']
    );
}

#[test]
fn a_forged_length_is_refused_without_reading_past_the_prefix() {
    let mut reader = NoMoreThan::new(prefix(u32::MAX));
    let error = block_on(read_frame(&mut reader, 32 * 1024 * 1024)).expect_err("refused");
    assert!(
        matches!(error, FrameError::TooLarge { len, max } if len == u64::from(u32::MAX) && max == 32 << 20),
        "{error}"
    );
}

#[test]
fn a_frame_of_exactly_the_maximum_is_read_and_one_byte_more_is_refused() {
    let body = vec![7u8; 100];
    let read = block_on(read_frame(&mut NoMoreThan::new(framed(&body)), 100)).expect("fits");
    assert_eq!(read, body);

    let longer = framed(&[7u8; 101]);
    let error = block_on(read_frame(&mut NoMoreThan::new(longer[..4].to_vec()), 100))
        .expect_err("101 > 100");
    assert!(matches!(error, FrameError::TooLarge { len: 101, max: 100 }));
}

#[test]
fn writing_over_the_maximum_sends_nothing() {
    let mut wire = Cursor::new(Vec::new());
    let error = block_on(write_frame(&mut wire, &[&[0u8; 60], &[0u8; 41]], 100)).expect_err("101");
    assert!(matches!(error, FrameError::TooLarge { len: 101, max: 100 }));
    assert!(wire.into_inner().is_empty());
    let mut wire = Cursor::new(Vec::new());
    block_on(write_frame(&mut wire, &[&[0u8; 60], &[0u8; 40]], 100)).expect("exactly 100 fits");
}

#[test]
fn a_maximum_beyond_the_prefix_is_capped_at_four_gibibytes() {
    let mut wire = Cursor::new(Vec::new());
    let parts: &[&[u8]] = &[];
    block_on(write_frame(&mut wire, parts, usize::MAX)).expect("empty fits");
    assert_eq!(wire.into_inner(), [0, 0, 0, 0]);
}

#[test]
fn an_empty_frame_reads_as_an_empty_body() {
    let read = block_on(read_frame(&mut NoMoreThan::new(prefix(0)), 0)).expect("reads");
    assert!(read.is_empty());
}

#[test]
fn a_clean_end_between_frames_is_closed_and_an_end_inside_the_prefix_is_an_eof() {
    let mut wire = Cursor::new(framed(b"one"));
    assert_eq!(block_on(read_frame(&mut wire, 16)).expect("reads"), b"one");
    assert!(matches!(
        block_on(read_frame(&mut wire, 16)),
        Err(FrameError::Closed)
    ));

    let error = block_on(read_frame(&mut Cursor::new(vec![0, 0]), 16)).expect_err("cut");
    assert!(matches!(error, FrameError::Io(e) if e.kind() == io::ErrorKind::UnexpectedEof));
}

#[test]
fn a_frame_spanning_many_chunks_reads_back_whole() {
    let body: Vec<u8> = (0..300_000u32).map(|i| i as u8).collect();
    let read = block_on(read_frame(&mut Cursor::new(framed(&body)), 1 << 20)).expect("reads");
    assert_eq!(read, body);
}

#[test]
fn a_truncated_frame_claiming_the_maximum_holds_memory_only_for_what_arrived() {
    // 32 MiB announced, 1000 bytes sent, then the stream ends.
    let mut reader = Cursor::new(vec![1u8; 1000]);
    let mut body = Vec::new();
    let error = block_on(read_body(&mut reader, 32 << 20, &mut body)).expect_err("cut");
    assert_eq!(error.kind(), io::ErrorKind::UnexpectedEof);
    assert!(body.capacity() <= READ_CHUNK, "{}", body.capacity());
}

#[test]
fn errors_become_io_errors_a_codec_can_report() {
    let too_large = io::Error::from(FrameError::TooLarge { len: 9, max: 8 });
    assert_eq!(too_large.kind(), io::ErrorKind::InvalidData);
    let inner = too_large
        .get_ref()
        .and_then(|e| e.downcast_ref::<FrameError>());
    assert!(matches!(
        inner,
        Some(FrameError::TooLarge { len: 9, max: 8 })
    ));
    assert_eq!(
        io::Error::from(FrameError::Closed).kind(),
        io::ErrorKind::UnexpectedEof
    );
    let broken = FrameError::Io(io::ErrorKind::ConnectionReset.into());
    assert_eq!(
        io::Error::from(broken).kind(),
        io::ErrorKind::ConnectionReset
    );
}

proptest! {
    #[test]
    fn any_frames_within_the_maximum_read_back_in_order(
        bodies in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..300), 1..5),
        split in 0usize..300,
        step in 1usize..9,
    ) {
        let mut wire = Cursor::new(Vec::new());
        for body in &bodies {
            let (head, tail) = body.split_at(split.min(body.len()));
            block_on(write_frame(&mut wire, &[head, tail], 300)).expect("fits");
        }
        let mut reader = NoMoreThan::in_steps(wire.into_inner(), step);
        for body in &bodies {
            prop_assert_eq!(&block_on(read_frame(&mut reader, body.len())).expect("reads"), body);
        }
        prop_assert_eq!(reader.pos, reader.data.len());
    }

    #[test]
    fn any_length_over_the_maximum_is_refused_on_the_prefix_alone(
        max in 0usize..1 << 20,
        over in 1u64..1 << 31,
    ) {
        let len = (max as u64 + over).min(u64::from(u32::MAX));
        prop_assume!(len > max as u64);
        let mut reader = NoMoreThan::in_steps(prefix(len as u32), 1);
        let error = block_on(read_frame(&mut reader, max)).expect_err("refused");
        let refused = matches!(error, FrameError::TooLarge { len: l, max: m } if l == len && m == max);
        prop_assert!(refused, "{}", error);
    }

    #[test]
    fn any_cut_in_a_frame_is_an_error_and_only_a_cut_before_it_is_closed(
        body in prop::collection::vec(any::<u8>(), 0..200),
        cut in 0usize..204,
    ) {
        let wire = framed(&body);
        let cut = cut.min(wire.len() - 1);
        let error = block_on(read_frame(&mut Cursor::new(wire[..cut].to_vec()), 200))
            .expect_err("cut short");
        if cut == 0 {
            prop_assert!(matches!(error, FrameError::Closed));
        } else {
            prop_assert!(
                matches!(&error, FrameError::Io(e) if e.kind() == io::ErrorKind::UnexpectedEof),
                "{}", error
            );
        }
    }

    #[test]
    fn memory_grows_only_with_the_bytes_received(
        announced in 0usize..64 << 20,
        received in 0usize..512 * 1024,
    ) {
        let received = received.min(announced);
        let mut reader = Cursor::new(vec![0u8; received]);
        let mut body = Vec::new();
        let result = block_on(read_body(&mut reader, announced, &mut body));
        prop_assert_eq!(result.is_ok(), received == announced);
        prop_assert!(
            body.capacity() <= 2 * (received + READ_CHUNK),
            "capacity {} after {} of {} bytes", body.capacity(), received, announced
        );
    }
}
