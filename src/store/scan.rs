//! Every line of a store file checked on every core, keeping what the caller asks of each
//! ([`FileStore::check_in_parts`]): for one deployment's scan (`cab status`, `cab gate` on a
//! store file), the lines that mention the deployment, parsed and replayed here; for a
//! console's first screen, where each line is (`preview.rs`). The lines hash independently, so
//! the file is cut at line boundaries into one stretch per core; each stretch checks its lines'
//! own hashes and the links inside it, and the stretches' ends are linked in order afterwards.
//! The first fault in file order is the one reported, with its line number, exactly as a scan
//! from start to end would report it.

use std::fs::File;
use std::io::{self, Read};

use memchr::memmem;

use super::file::{DeploymentScan, FileStore, ScanError, StoreError, TornTail};
use super::line::{self, GENESIS, LineError};
use crate::engine::{self, State};
use crate::untrusted::json;

/// Below this size one thread scans the file: starting another costs more than it saves.
pub(super) const PARALLEL_FROM: u64 = 8 << 20;

/// What one stretch of whole lines holds, checked without the lines before it.
struct Stretch<T> {
    /// Complete lines read.
    lines: u64,
    /// The first line's sequence number and previous-hash, to link to the stretch before.
    first: Option<(u64, String)>,
    /// The last line's hash.
    last_hash: Option<String>,
    /// What the caller kept of its lines: their index in the stretch, and what was kept.
    kept: Vec<(u64, T)>,
    /// The first fault: its index in the stretch and what is wrong.
    fault: Option<(u64, LineError)>,
    /// Bytes after the last complete line (a torn tail, in the last stretch).
    tail: u64,
    /// Where the bytes after the last complete line start.
    end: u64,
}

/// `read_at` as a `Read` over `[pos, end)` of a file, so stretches share one open file.
struct At<'a> {
    file: &'a File,
    pos: u64,
    end: u64,
}

impl Read for At<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let want = buf.len().min((self.end - self.pos) as usize);
        if want == 0 {
            return Ok(0);
        }
        let n = read_at(self.file, &mut buf[..want], self.pos)?;
        self.pos += n as u64;
        Ok(n)
    }
}

#[cfg(unix)]
fn read_at(file: &File, buf: &mut [u8], at: u64) -> io::Result<usize> {
    std::os::unix::fs::FileExt::read_at(file, buf, at)
}

#[cfg(windows)]
fn read_at(file: &File, buf: &mut [u8], at: u64) -> io::Result<usize> {
    std::os::windows::fs::FileExt::seek_read(file, buf, at)
}

/// Fill `buf` from file offset `at`, on a file other threads read too.
pub(super) fn read_exact_at(file: &File, mut buf: &mut [u8], mut at: u64) -> io::Result<()> {
    while !buf.is_empty() {
        match read_at(file, buf, at) {
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => {
                buf = &mut buf[n..];
                at += n as u64;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Check the lines of `[start, end)`, which starts at a line's start, keeping what `keep`
/// makes of each line that checks out (given its file offset and its bytes).
fn stretch<T>(
    file: &File,
    start: u64,
    end: u64,
    keep: &(impl Fn(u64, &[u8]) -> Option<T> + Sync),
) -> io::Result<Stretch<T>> {
    let mut out = Stretch {
        lines: 0,
        first: None,
        last_hash: None,
        kept: Vec::new(),
        fault: None,
        tail: 0,
        end: start,
    };
    let mut prev_seq = 0;
    let mut last_hash: Option<[u8; 64]> = None;
    let reader = At {
        file,
        pos: start,
        end,
    };
    // After a fault the rest of the stretch is only read past: the fault is what is reported.
    let tail = super::file::for_each_line(reader, start, |offset, bytes| {
        if out.fault.is_some() {
            return Ok(());
        }
        let i = out.lines;
        // The fast path: the line's hash, then its sequence number and link to the line before
        // compared as bytes (a `prev` equal to a checked hash is hex). Anything off, or the
        // stretch's first line: the strict path, which names the fault as a plain scan would.
        if let (Some(last), Some((seq, prev, hash))) = (&last_hash, line::quick_link(bytes))
            && seq == prev_seq + 1
            && prev == last.as_slice()
        {
            last_hash = hash.try_into().ok();
            prev_seq = seq;
        } else {
            let link = match line::own_link(bytes) {
                Ok(link) => link,
                Err(e) => {
                    out.fault = Some((i, e));
                    return Ok(());
                }
            };
            if let Some(last) = &last_hash {
                if link.seq != prev_seq + 1 {
                    out.fault = Some((
                        i,
                        LineError::BadSequence {
                            expected: prev_seq + 1,
                            found: link.seq,
                        },
                    ));
                    return Ok(());
                }
                if link.prev.as_bytes() != last.as_slice() {
                    out.fault = Some((i, LineError::BrokenChain));
                    return Ok(());
                }
            } else {
                out.first = Some((link.seq, link.prev.to_string()));
            }
            last_hash = link.hash.as_bytes().try_into().ok();
            prev_seq = link.seq;
        }
        if let Some(kept) = keep(offset, bytes) {
            out.kept.push((i, kept));
        }
        out.lines += 1;
        out.end = offset + bytes.len() as u64 + 1;
        Ok(())
    });
    out.last_hash = last_hash.map(|h| String::from_utf8_lossy(&h).into_owned());
    match tail {
        Ok(tail) if out.fault.is_none() => out.tail = tail,
        Ok(_) | Err(ScanError::Store(_)) => {}
        Err(ScanError::Io(e)) => return Err(e),
    }
    Ok(out)
}

/// Where to cut `[0, len)` into `parts` stretches: at the line start after each cut point.
fn cuts(file: &File, len: u64, parts: u64) -> io::Result<Vec<u64>> {
    let mut cuts = vec![0];
    let mut buf = vec![0u8; 64 * 1024];
    for k in 1..parts {
        let mut at = (len * k / parts).max(*cuts.last().unwrap_or(&0));
        let found = loop {
            let n = read_at(file, &mut buf, at)?;
            if n == 0 {
                break None;
            }
            if let Some(nl) = memchr::memchr(b'\n', &buf[..n]) {
                break Some(at + nl as u64 + 1);
            }
            at += n as u64;
        };
        match found {
            Some(cut) if cut < len && cut > *cuts.last().unwrap_or(&0) => cuts.push(cut),
            _ => break,
        }
    }
    cuts.push(len);
    Ok(cuts)
}

/// Every line of a file checked on every core, and what the caller kept of them.
pub(super) struct Checked<T> {
    /// What was kept, by line number, in file order: only of lines before the fault.
    pub kept: Vec<(u64, T)>,
    /// The first fault in file order: its line number and what is wrong.
    pub fault: Option<(u64, LineError)>,
    /// Whole lines read (up to the fault's stretch, when there is one).
    pub head: u64,
    pub torn: Option<TornTail>,
}

/// How many stretches and threads to check a file of `len` bytes with. More stretches than
/// threads, taken in turn: a thread that finishes early takes the next one instead of waiting
/// for a slower half.
pub(super) fn parts_for(len: u64) -> (u64, u64) {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get() as u64);
    if len >= PARALLEL_FROM {
        (cores.clamp(1, 8) * 4, cores.clamp(1, 8))
    } else {
        (1, 1)
    }
}

impl FileStore {
    /// One deployment's events, judged, from a scan of the whole file (see the module).
    pub(super) fn scan_lines(
        &self,
        file: &File,
        deployment: &str,
        at: Option<chrono::DateTime<chrono::Utc>>,
    ) -> Result<DeploymentScan, StoreError> {
        let len = file.metadata().map_err(self.io("read"))?.len();
        let (parts, threads) = parts_for(len);
        self.scan_in_parts(file, len, deployment, at, parts, threads)
    }

    /// Check every line of `[0, len)` in `parts` stretches on `threads` threads: each line's
    /// hash, and its sequence number and link to the line before. `keep` says what to keep of
    /// each line (given its offset and bytes); it sees only lines that check out.
    pub(super) fn check_in_parts<T: Send>(
        &self,
        file: &File,
        len: u64,
        parts: u64,
        threads: u64,
        keep: impl Fn(u64, &[u8]) -> Option<T> + Sync,
    ) -> Result<Checked<T>, StoreError> {
        let cuts = cuts(file, len, parts).map_err(self.io("read"))?;
        let bounds: Vec<(u64, u64)> = cuts.windows(2).map(|w| (w[0], w[1])).collect();
        let next = std::sync::atomic::AtomicUsize::new(0);
        let done: Vec<std::sync::Mutex<Option<io::Result<Stretch<T>>>>> =
            bounds.iter().map(|_| std::sync::Mutex::new(None)).collect();
        std::thread::scope(|s| {
            for _ in 0..threads.max(1) {
                s.spawn(|| {
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(&(start, end)) = bounds.get(i) else {
                            return;
                        };
                        let result = stretch(file, start, end, &keep);
                        if let Some(slot) = done.get(i) {
                            *slot.lock().unwrap_or_else(|p| p.into_inner()) = Some(result);
                        }
                    }
                });
            }
        });
        let stretches = done.into_iter().map(|slot| {
            slot.into_inner()
                .unwrap_or_else(|p| p.into_inner())
                .unwrap_or_else(|| Err(io::Error::other("a scan thread failed")))
        });
        // Link the stretches in order; the first fault in file order stops the scan.
        let mut checked = Checked {
            kept: Vec::new(),
            fault: None,
            head: 0,
            torn: None,
        };
        let mut prev = GENESIS.to_string();
        for stretch in stretches {
            let stretch = stretch.map_err(self.io("read"))?;
            let base = checked.head;
            if let Some((seq, first_prev)) = &stretch.first {
                if *seq != base + 1 {
                    checked.fault = Some((
                        base + 1,
                        LineError::BadSequence {
                            expected: base + 1,
                            found: *seq,
                        },
                    ));
                } else if *first_prev != prev {
                    checked.fault = Some((base + 1, LineError::BrokenChain));
                }
            }
            if checked.fault.is_none()
                && let Some((i, e)) = stretch.fault
            {
                checked.fault = Some((base + i + 1, e));
            }
            let before = checked.fault.as_ref().map_or(u64::MAX, |(line, _)| *line);
            checked.kept.extend(
                stretch
                    .kept
                    .into_iter()
                    .map(|(i, kept)| (base + i + 1, kept))
                    .take_while(|(seq, _)| *seq < before),
            );
            if let Some(h) = stretch.last_hash {
                prev = h;
            }
            checked.head += stretch.lines;
            if stretch.tail > 0 {
                checked.torn = Some(TornTail {
                    line: checked.head + 1,
                    offset: stretch.end,
                    len: stretch.tail,
                });
            }
            if checked.fault.is_some() {
                break;
            }
        }
        Ok(checked)
    }

    /// [`Self::scan_lines`] in `parts` stretches on `threads` threads.
    fn scan_in_parts(
        &self,
        file: &File,
        len: u64,
        deployment: &str,
        at: Option<chrono::DateTime<chrono::Utc>>,
        parts: u64,
        threads: u64,
    ) -> Result<DeploymentScan, StoreError> {
        // Our writer always encodes a string the same way, so its JSON form is what to look for.
        let needle = json::to_string(deployment).unwrap_or_default();
        let finder = memmem::Finder::new(needle.as_bytes());
        let checked = self.check_in_parts(file, len, parts, threads, |_, bytes| {
            finder.find(bytes).is_some().then(|| bytes.to_vec())
        })?;
        let mut state = State::new();
        let mut as_of = at.map(|_| State::new());
        for (seq, bytes) in checked.kept {
            // Its chain was checked above; decoding checks it once more, from its own fields.
            let own_prev = line::own_link(&bytes)
                .map(|l| l.prev.to_string())
                .map_err(|e| self.corrupt(seq, e))?;
            let event = line::decode(&bytes, seq, &own_prev).map_err(|e| self.corrupt(seq, e))?;
            // One deployment's events are judged against its own history alone: every rule
            // reads only the request an event names and that request's exceptions.
            if event.event.kind.deployment_intent_id() == deployment {
                let then = at
                    .is_some_and(|at| event.event.at <= at)
                    .then(|| (event.event.at, event.event.kind.clone()));
                engine::admit(&mut state, seq, event.event).map_err(|e| self.corrupt(seq, e))?;
                if let (Some(past), Some((time, kind))) = (&mut as_of, then) {
                    past.apply(seq, time, kind)
                        .map_err(|e| self.corrupt(seq, e))?;
                }
            }
        }
        if let Some((line, e)) = checked.fault {
            return Err(self.corrupt(line, e));
        }
        Ok(DeploymentScan {
            state,
            as_of,
            head: checked.head,
            torn: checked.torn,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::path::Path;

    use chrono::{TimeZone, Utc};

    use super::super::line::{self, GENESIS};
    use super::super::{FileStore, StoreError};
    use crate::engine::{Policy, State};

    fn demo(dir: &Path) -> (FileStore, Vec<Vec<u8>>) {
        let store = FileStore::new(dir.join("store.jsonl")).with_checkpoints(None);
        let now = Utc.with_ymd_and_hms(2026, 11, 28, 12, 0, 0).unwrap();
        let filled = crate::store::Store::from(store.clone());
        crate::demo::fill(&filled, 80, 3, now, &Policy::default()).unwrap();
        let lines = fs::read(store.path())
            .unwrap()
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .map(<[u8]>::to_vec)
            .collect();
        (store, lines)
    }

    /// The scan written the plain way, line after line: the first fault, or the deployment's
    /// state and the head.
    fn reference(bytes: &[u8], deployment: &str) -> Result<(State, u64), (u64, String)> {
        let needle = crate::untrusted::json::to_string(deployment).unwrap();
        let mut prev = GENESIS.to_string();
        let mut state = State::new();
        let mut seq = 0;
        // Complete lines only: what follows the last `\n` is a torn tail, not a line.
        let complete = bytes.len() - bytes.iter().rev().take_while(|b| **b != b'\n').count();
        let whole = complete.saturating_sub(1);
        for l in bytes[..whole]
            .split(|b| *b == b'\n')
            .filter(|_| complete > 0)
        {
            seq += 1;
            let link = line::check_link(l, seq, &prev).map_err(|e| (seq, e.to_string()))?;
            prev = link.hash.to_string();
            if memchr::memmem::find(l, needle.as_bytes()).is_some() {
                let event = line::decode(l, seq, link.prev).map_err(|e| (seq, e.to_string()))?;
                if event.event.kind.deployment_intent_id() == deployment {
                    crate::engine::admit(&mut state, seq, event.event)
                        .map_err(|e| (seq, e.to_string()))?;
                }
            }
        }
        Ok((state, seq))
    }

    fn scanned(
        store: &FileStore,
        deployment: &str,
        parts: u64,
    ) -> Result<(State, u64), (u64, String)> {
        let file = fs::File::open(store.path()).unwrap();
        let len = file.metadata().unwrap().len();
        match store.scan_in_parts(&file, len, deployment, None, parts * 2, parts) {
            Ok(scan) => Ok((scan.state, scan.head)),
            Err(StoreError::Corrupt { line, reason, .. }) => Err((line, reason)),
            Err(other) => panic!("not a fault of the store: {other}"),
        }
    }

    fn deployment_of(line: &[u8]) -> String {
        let v: serde_json::Value = serde_json::from_slice(line).unwrap();
        let data = &v["data"];
        data["request"]["deployment_intent_id"]
            .as_str()
            .or(data["deployment_intent_id"].as_str())
            .or(data["exception"]["deployment_intent_id"].as_str())
            .or(data["outcome"]["deployment_intent_id"].as_str())
            .unwrap()
            .to_string()
    }

    #[test]
    fn on_any_number_of_threads_the_scan_finds_what_a_scan_line_after_line_finds() {
        let dir = tempfile::tempdir().unwrap();
        let (store, lines) = demo(dir.path());
        let n = lines.len();
        let write = |lines: &[Vec<u8>], tail: &[u8]| {
            let mut bytes = lines.join(&b'\n');
            bytes.push(b'\n');
            bytes.extend_from_slice(tail);
            fs::write(store.path(), &bytes).unwrap();
            bytes
        };
        let deployments = [
            deployment_of(&lines[0]),
            deployment_of(&lines[n / 2]),
            deployment_of(&lines[n - 1]),
        ];
        let mut cases: Vec<(String, Vec<Vec<u8>>, Vec<u8>)> =
            vec![("intact".into(), lines.clone(), Vec::new())];
        cases.push((
            "a torn tail".into(),
            lines.clone(),
            b"{\"v\":1,\"seq\":".to_vec(),
        ));
        for k in [0, 1, n / 3, n / 2, n / 2 + 1, n - 2, n - 1] {
            let mut edited = lines.clone();
            let at = edited[k].len() / 2;
            edited[k][at] ^= 0x20;
            cases.push((format!("line {} edited", k + 1), edited, Vec::new()));
            let mut removed = lines.clone();
            removed.remove(k);
            cases.push((format!("line {} removed", k + 1), removed, Vec::new()));
            if k + 1 < n {
                let mut swapped = lines.clone();
                swapped.swap(k, k + 1);
                cases.push((
                    format!("lines {} and {} swapped", k + 1, k + 2),
                    swapped,
                    Vec::new(),
                ));
            }
            let mut doubled = lines.clone();
            doubled.insert(k, lines[k].clone());
            cases.push((format!("line {} doubled", k + 1), doubled, Vec::new()));
        }
        // A line edited and its own hash made again: the next line no longer links to it. Just
        // before and at each cut between stretches, for every number of threads tried.
        let len: usize = lines.iter().map(|l| l.len() + 1).sum();
        let mut starts = vec![0usize];
        for l in &lines {
            starts.push(starts.last().unwrap() + l.len() + 1);
        }
        let mut at_cuts = std::collections::BTreeSet::new();
        for parts in 2..=4 {
            for j in 1..parts {
                let cut = starts.iter().position(|&s| s >= len * j / parts).unwrap();
                at_cuts.extend([cut.saturating_sub(2), cut.saturating_sub(1), cut]);
            }
        }
        for k in at_cuts.into_iter().filter(|&k| k + 1 < n) {
            let mut rehashed = lines.clone();
            let l = &mut rehashed[k];
            let at = l.len() / 3;
            l[at] ^= 0x20;
            let body_end = l.len() - 75;
            let hash = line::sha256_hex(&l[..body_end]);
            l.truncate(body_end);
            l.extend_from_slice(format!(",\"hash\":\"{hash}\"}}").as_bytes());
            cases.push((
                format!("line {} edited and rehashed", k + 1),
                rehashed,
                Vec::new(),
            ));
        }
        for (what, case, tail) in cases {
            let bytes = write(&case, &tail);
            for deployment in &deployments {
                let expected = reference(&bytes, deployment);
                for parts in 1..=4 {
                    assert_eq!(
                        scanned(&store, deployment, parts),
                        expected,
                        "{what}, {deployment}, {parts} threads"
                    );
                }
            }
        }
    }
}
