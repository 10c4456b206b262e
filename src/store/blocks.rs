//! Reading a long run of lines on every core: one thread reads blocks of whole lines, parser
//! threads turn blocks into results, and the caller's thread takes the results in file order.
//! A replay (`file.rs`) and the state as of a moment (`as_of.rs`) both read this way; each
//! says what parsing a block means and what taking its result does.

use std::collections::BTreeMap;
use std::io::{self, Read};
use std::sync::mpsc::{Receiver, channel, sync_channel};
use std::sync::{Arc, Mutex};

/// How many bytes of lines a block holds (more when one line is longer). Small enough that the
/// blocks and results in flight stay a few MB whatever the store's size, large enough that
/// handing them between threads costs nothing measurable.
pub(super) const BLOCK: usize = 256 << 10;

/// Whole lines, each ending with its `\n`, and where they are.
pub(super) struct Block<'a> {
    /// The sequence number of its first line.
    pub first_seq: u64,
    /// The file offset of its first byte.
    pub offset: u64,
    pub bytes: &'a [u8],
}

impl Block<'_> {
    /// Its lines in order, each with its sequence number and file offset, without the `\n`.
    pub fn lines(&self) -> impl Iterator<Item = (u64, u64, &[u8])> + '_ {
        let mut start = 0;
        (self.first_seq..)
            .zip(memchr::memchr_iter(b'\n', self.bytes))
            .map(move |(seq, end)| {
                let line = (seq, self.offset + start as u64, &self.bytes[start..end]);
                start = end + 1;
                line
            })
    }
}

/// What was read: whole lines, and the bytes after the last one (a torn tail, or a line still
/// being written).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Lines {
    pub count: u64,
    pub tail: u64,
}

/// Why reading stopped early: the caller's `take` refused a result (its error comes first: it
/// is about an earlier line than anything not yet taken), or the file could not be read.
#[derive(Debug)]
pub(super) enum Stopped<E> {
    Taken(E),
    Read(io::Error),
}

/// How many threads parse: every core, at least two (the reader and the taker mostly wait).
pub(super) fn parsers() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get().clamp(2, 8))
}

/// Read `reader` (whose first byte is at file offset `offset` and whose first line is number
/// `first_seq`) in blocks; `parse` each block on a parser thread; `take` the results in file
/// order on this thread. Stops at the first error of `take`.
pub(super) fn pipelined<T: Send, E>(
    reader: impl Read + Send,
    offset: u64,
    first_seq: u64,
    parse: impl Fn(Block<'_>) -> T + Sync,
    mut take: impl FnMut(T) -> Result<(), E>,
) -> Result<Lines, Stopped<E>> {
    let parsers = parsers();
    let (blocks_tx, blocks_rx) = sync_channel::<(usize, u64, u64, Vec<u8>)>(parsers);
    // Shared by the parsers alone: once they are all gone (the taker stopped), a reader
    // waiting to hand over a block is told so instead of waiting for ever.
    let blocks_rx = Arc::new(Mutex::new(blocks_rx));
    let (parsed_tx, parsed_rx) = sync_channel::<(usize, T)>(2 * parsers);
    // Parsed blocks go back to the reader to be filled again.
    let (spare_tx, spare_rx) = channel::<Vec<u8>>();
    std::thread::scope(|s| {
        let reading = s.spawn(move || {
            let (mut index, mut seq, mut at) = (0, first_seq, offset);
            let tail = for_each_block(reader, &spare_rx, |block| {
                let lines = memchr::memchr_iter(b'\n', &block).count() as u64;
                let len = block.len() as u64;
                // Parsers gone: the taker stopped, and its error is the one.
                let sent = blocks_tx.send((index, seq, at, block)).is_ok();
                index += 1;
                seq += lines;
                at += len;
                sent
            })?;
            Ok(Lines {
                count: seq - first_seq,
                tail,
            })
        });
        for _ in 0..parsers {
            let (blocks_rx, parsed_tx, spare_tx, parse) = (
                Arc::clone(&blocks_rx),
                parsed_tx.clone(),
                spare_tx.clone(),
                &parse,
            );
            s.spawn(move || {
                loop {
                    let next = blocks_rx
                        .lock()
                        .unwrap_or_else(|poisoned| poisoned.into_inner())
                        .recv();
                    let Ok((index, first_seq, offset, block)) = next else {
                        return;
                    };
                    let parsed = parse(Block {
                        first_seq,
                        offset,
                        bytes: &block,
                    });
                    let _ = spare_tx.send(block);
                    if parsed_tx.send((index, parsed)).is_err() {
                        return;
                    }
                }
            });
        }
        drop((parsed_tx, blocks_rx));
        // Blocks come back in any order; each is taken once those before it are.
        let mut waiting = BTreeMap::new();
        let mut next = 0;
        let mut taken = Ok(());
        'blocks: for (index, parsed) in &parsed_rx {
            waiting.insert(index, parsed);
            while let Some(parsed) = waiting.remove(&next) {
                next += 1;
                taken = take(parsed);
                if taken.is_err() {
                    break 'blocks;
                }
            }
        }
        drop(parsed_rx);
        let read = reading
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("the reader failed")));
        taken.map_err(Stopped::Taken)?;
        read.map_err(Stopped::Read)
    })
}

/// Call `f` with blocks of whole lines (each ending with its `\n`) read from `reader`, until
/// it returns `false`; the number of bytes after the last whole line. Blocks come from
/// `spare` when it has one (a block handed back once parsed): fresh memory would have to be
/// zeroed by the kernel, page by page.
fn for_each_block(
    mut reader: impl Read,
    spare: &Receiver<Vec<u8>>,
    mut f: impl FnMut(Vec<u8>) -> bool,
) -> io::Result<u64> {
    let mut carry: Vec<u8> = Vec::new();
    loop {
        let mut block = spare
            .try_recv()
            .unwrap_or_else(|_| Vec::with_capacity(BLOCK));
        block.clear();
        block.extend_from_slice(&carry);
        // At least a whole chunk to read into, more when a line is longer than that.
        let want = BLOCK.max(2 * carry.len());
        block.reserve(want.saturating_sub(block.len()));
        let room = (block.capacity() - block.len()) as u64;
        let n = loop {
            match (&mut reader).take(room).read_to_end(&mut block) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        };
        if n == 0 {
            return Ok(block.len() as u64);
        }
        let Some(last) = memchr::memrchr(b'\n', &block) else {
            carry = block;
            continue;
        };
        carry.clear();
        carry.extend_from_slice(&block[last + 1..]);
        block.truncate(last + 1);
        if !f(block) {
            return Ok(0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lines of every length around the block size, some longer than a block.
    fn lines() -> Vec<Vec<u8>> {
        (0..400u64)
            .map(|i| {
                let len = match i % 7 {
                    0 => BLOCK + 17,
                    1 => 0,
                    _ => (i * 7919) as usize % 9000,
                };
                let mut line = vec![b'a' + (i % 26) as u8; len];
                line.extend_from_slice(format!(" {i}").as_bytes());
                line
            })
            .collect()
    }

    #[test]
    fn every_line_is_taken_once_in_file_order_with_its_seq_and_offset() {
        let lines = lines();
        let mut file = Vec::new();
        let mut expected = Vec::new();
        for (i, line) in lines.iter().enumerate() {
            expected.push((10 + i as u64, 1000 + file.len() as u64, line.clone()));
            file.extend_from_slice(line);
            file.push(b'\n');
        }
        file.extend_from_slice(b"torn");
        let mut got = Vec::new();
        let read = pipelined(
            file.as_slice(),
            1000,
            10,
            |block| {
                block
                    .lines()
                    .map(|(seq, at, line)| (seq, at, line.to_vec()))
                    .collect::<Vec<_>>()
            },
            |parsed| {
                got.extend(parsed);
                Ok::<(), ()>(())
            },
        )
        .unwrap();
        assert_eq!(
            read,
            Lines {
                count: 400,
                tail: 4
            }
        );
        assert_eq!(got.len(), expected.len());
        assert!(got == expected, "lines out of order or misplaced");
    }

    #[test]
    fn the_first_refusal_stops_reading_and_is_the_answer() {
        // Many more blocks than the channels hold: the reader must stop, not wait for ever.
        let file: Vec<u8> = (0..2_000_000u64)
            .flat_map(|i| format!("line {i}\n").into_bytes())
            .collect();
        let mut taken = 0u64;
        let stopped = pipelined(
            file.as_slice(),
            0,
            1,
            |block| block.lines().map(|(seq, _, _)| seq).collect::<Vec<_>>(),
            |seqs| {
                for seq in seqs {
                    if seq == 150_000 {
                        return Err(seq);
                    }
                    taken += 1;
                }
                Ok(())
            },
        );
        assert!(matches!(stopped, Err(Stopped::Taken(150_000))));
        assert_eq!(taken, 149_999);
    }

    #[test]
    fn a_read_error_is_reported_after_the_lines_before_it_are_taken() {
        struct Failing(Vec<u8>, usize);
        impl Read for Failing {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                if self.1 >= self.0.len() {
                    return Err(io::Error::other("disk on fire"));
                }
                let n = buf.len().min(self.0.len() - self.1).min(4096);
                buf[..n].copy_from_slice(&self.0[self.1..self.1 + n]);
                self.1 += n;
                Ok(n)
            }
        }
        let file: Vec<u8> = (0..3_000u64)
            .flat_map(|i| format!("line {i}\n").into_bytes())
            .collect();
        let mut taken = 0;
        let stopped = pipelined(
            Failing(file, 0),
            0,
            1,
            |block| block.lines().count(),
            |n| {
                taken += n;
                Ok::<(), ()>(())
            },
        );
        assert!(matches!(stopped, Err(Stopped::Read(e)) if e.to_string() == "disk on fire"));
        assert!(taken <= 3_000);
    }
}
