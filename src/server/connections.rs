//! The server's own accept loop (SPEC section 5): no client, however slow or numerous, can
//! lock others out or hold up a shutdown. A request header must arrive within 30 s (which also
//! closes keep-alive connections left idle that long); at most a capped number of connections
//! are open at once, and a newcomer beyond the cap closes the connection idle the longest, or
//! waits for one to finish; on shutdown in-flight requests finish and the rest are closed.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, watch};
use tokio::time::Instant;
use tower_service::Service;

/// A request whose header has not fully arrived this long after the connection started
/// waiting for it (new, or kept alive after an answer) is dropped with its connection.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// After SIGTERM, how long requests in flight may take before their connections are closed.
/// With [`BLOCKING_GRACE`], the server is gone within SPEC's 10 s.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(8);
/// After the connections, how long store work already started may take to end.
pub const BLOCKING_GRACE: Duration = Duration::from_secs(1);
/// How long a connection asked to close may take to finish sending an answer; then it is
/// dropped unless a request on it is still being answered.
const CLOSE_GRACE: Duration = Duration::from_secs(1);
/// How often a newcomer waiting for room looks again for an idle connection to close.
const RETRY: Duration = Duration::from_millis(100);
/// File descriptors kept for everything but connections: the store, its lock and
/// checkpoints, the runtime, the log.
const RESERVED_FDS: u64 = 64;

/// The connection cap when the config file gives none.
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;

/// How much the server takes on at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Connections open at once (`[server] max_connections`), before the open-file limit.
    pub max_connections: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: DEFAULT_MAX_CONNECTIONS,
        }
    }
}

impl Limits {
    pub fn from_config(server: &crate::config::ServerConfig) -> Limits {
        Limits {
            max_connections: server.max_connections.unwrap_or(DEFAULT_MAX_CONNECTIONS),
        }
    }
}

/// The cap actually applied: the configured one, lowered so that connections alone can never
/// use up the process's open files (which would leave none for the store, or for the next
/// connection). At least 1.
pub fn effective_cap(configured: usize, open_file_limit: Option<u64>) -> u32 {
    let by_files = open_file_limit.map_or(u64::MAX, |limit| limit.saturating_sub(RESERVED_FDS));
    let cap = u64::try_from(configured)
        .unwrap_or(u64::MAX)
        .min(by_files)
        .min(u64::from(u32::MAX >> 3));
    u32::try_from(cap.max(1)).unwrap_or(1)
}

/// The process's open-file limit, first raised to its hard limit as far as allowed.
#[cfg(unix)]
pub fn open_file_limit() -> Option<u64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit only writes the struct it is given, which lives for the call.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return None;
    }
    if limit.rlim_cur < limit.rlim_max {
        let raised = libc::rlimit {
            rlim_cur: limit.rlim_max,
            rlim_max: limit.rlim_max,
        };
        // SAFETY: setrlimit only reads the struct it is given; failing leaves the limit as it was.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
            limit.rlim_cur = limit.rlim_max;
        }
    }
    #[allow(clippy::useless_conversion)]
    u64::try_from(limit.rlim_cur).ok()
}

#[cfg(not(unix))]
pub fn open_file_limit() -> Option<u64> {
    None
}

/// One open connection, as the accept loop sees it.
struct Entry {
    /// Requests on it being answered right now.
    busy: usize,
    /// When it last had no request being answered.
    idle_since: Instant,
    /// Asked to close already.
    closing: bool,
    close: Arc<Notify>,
}

#[derive(Default)]
struct Table {
    next: u64,
    open: HashMap<u64, Entry>,
}

/// The open connections and the room left for more.
#[derive(Clone)]
struct Connections {
    table: Arc<Mutex<Table>>,
    room: Arc<Semaphore>,
}

impl Connections {
    fn new(cap: u32) -> Self {
        Connections {
            table: Arc::default(),
            room: Arc::new(Semaphore::new(cap as usize)),
        }
    }

    /// The table; a panic elsewhere while holding it leaves counters that are still usable.
    fn table(&self) -> MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn register(&self) -> (u64, Arc<Notify>) {
        let mut table = self.table();
        table.next += 1;
        let id = table.next;
        let close = Arc::new(Notify::new());
        table.open.insert(
            id,
            Entry {
                busy: 0,
                idle_since: Instant::now(),
                closing: false,
                close: close.clone(),
            },
        );
        (id, close)
    }

    fn remove(&self, id: u64) {
        self.table().open.remove(&id);
    }

    fn len(&self) -> usize {
        self.table().open.len()
    }

    /// Marks a request on connection `id` as being answered until the guard is dropped.
    fn busy(&self, id: u64) -> Busy {
        if let Some(entry) = self.table().open.get_mut(&id) {
            entry.busy += 1;
        }
        Busy {
            connections: self.clone(),
            id,
        }
    }

    fn is_busy(&self, id: u64) -> bool {
        self.table().open.get(&id).is_some_and(|e| e.busy > 0)
    }

    /// Asks the connection idle the longest (no request being answered, not already closing)
    /// to close. False when every connection is answering a request.
    fn close_oldest_idle(&self) -> bool {
        let mut table = self.table();
        let oldest = table
            .open
            .values_mut()
            .filter(|e| e.busy == 0 && !e.closing)
            .min_by_key(|e| e.idle_since);
        match oldest {
            Some(entry) => {
                entry.closing = true;
                // notify_one keeps the wake-up if the connection is not waiting right now.
                entry.close.notify_one();
                true
            }
            None => false,
        }
    }
}

struct Busy {
    connections: Connections,
    id: u64,
}

impl Drop for Busy {
    fn drop(&mut self) {
        if let Some(entry) = self.connections.table().open.get_mut(&self.id) {
            entry.busy = entry.busy.saturating_sub(1);
            entry.idle_since = Instant::now();
        }
    }
}

/// Accepts connections and serves `app` on each until `stop` completes, then tells `stopping`,
/// lets requests in flight finish for up to [`SHUTDOWN_GRACE`] and closes what is left.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    cap: u32,
    stop: impl Future<Output = ()>,
    stopping: watch::Sender<bool>,
) {
    let connections = Connections::new(cap);
    let mut stop = std::pin::pin!(stop);
    let mut last_warning: Option<Instant> = None;
    'accept: loop {
        let stream = tokio::select! {
            _ = &mut stop => break 'accept,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) if is_per_connection(&e) => continue,
                Err(e) => {
                    // Out of file descriptors or buffers: make room and try again shortly.
                    if last_warning.is_none_or(|at| at.elapsed() >= Duration::from_secs(1)) {
                        tracing::warn!(
                            error = %e,
                            open = connections.len(),
                            "cannot accept a connection; closing the one idle the longest"
                        );
                        last_warning = Some(Instant::now());
                    }
                    connections.close_oldest_idle();
                    tokio::select! {
                        _ = &mut stop => break 'accept,
                        _ = tokio::time::sleep(RETRY) => continue,
                    }
                }
            },
        };
        let permit = loop {
            if let Ok(permit) = connections.room.clone().try_acquire_owned() {
                break permit;
            }
            // At the cap: an idle connection makes room for this one; with none idle, this
            // one waits (and the ones behind it in the listen queue) for a request to end.
            connections.close_oldest_idle();
            tokio::select! {
                _ = &mut stop => break 'accept,
                permit = connections.room.clone().acquire_owned() => match permit {
                    Ok(permit) => break permit,
                    Err(_) => break 'accept,
                },
                _ = tokio::time::sleep(RETRY) => {}
            }
        };
        tokio::spawn(connection(
            stream,
            app.clone(),
            connections.clone(),
            permit,
            stopping.subscribe(),
        ));
    }
    drop(listener);
    tracing::info!(
        open = connections.len(),
        "stopping: no new connections; finishing the requests in flight"
    );
    let _ = stopping.send(true);
    let all = connections.room.acquire_many(cap);
    if tokio::time::timeout(SHUTDOWN_GRACE, all).await.is_err() {
        tracing::warn!(
            open = connections.len(),
            "connections still open {} s after the signal; closing them",
            SHUTDOWN_GRACE.as_secs()
        );
    }
}

/// Errors that concern only the connection being accepted, not the listener.
fn is_per_connection(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::ConnectionRefused
            | std::io::ErrorKind::ConnectionAborted
            | std::io::ErrorKind::ConnectionReset
    )
}

/// One connection: HTTP/1.1 with the header-read timeout, until the client is done, the
/// header does not come, or the server asks it to close (to make room, or to stop).
async fn connection(
    stream: TcpStream,
    app: Router,
    connections: Connections,
    permit: OwnedSemaphorePermit,
    mut stopping: watch::Receiver<bool>,
) {
    let (id, close) = connections.register();
    let service = {
        let connections = connections.clone();
        hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
            let busy = connections.busy(id);
            let mut app = app.clone();
            async move {
                let response = app.call(request).await;
                drop(busy);
                response
            }
        })
    };
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT);
    let conn = builder.serve_connection(TokioIo::new(stream), service);
    let mut conn = std::pin::pin!(conn);
    // Once asked to close: when to look again whether a request is still being answered.
    let mut closing: Option<Instant> = None;
    loop {
        let recheck = closing.unwrap_or_else(|| Instant::now() + SHUTDOWN_GRACE);
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!(error = %e, "connection ended");
                }
                break;
            }
            _ = close.notified(), if closing.is_none() => {
                conn.as_mut().graceful_shutdown();
                closing = Some(Instant::now() + CLOSE_GRACE);
            }
            _ = stopping.wait_for(|stop| *stop), if closing.is_none() => {
                conn.as_mut().graceful_shutdown();
                closing = Some(Instant::now() + CLOSE_GRACE);
            }
            _ = tokio::time::sleep_until(recheck), if closing.is_some() => {
                // A graceful close waits for a header that may never come; only a request
                // being answered is worth waiting for (the shutdown deadline bounds that).
                if !connections.is_busy(id) {
                    break;
                }
                closing = Some(Instant::now() + CLOSE_GRACE);
            }
        }
    }
    connections.remove(id);
    drop(permit);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_leaves_room_under_the_open_file_limit() {
        assert_eq!(effective_cap(1024, None), 1024);
        assert_eq!(effective_cap(1024, Some(1_048_576)), 1024);
        assert_eq!(effective_cap(1024, Some(256)), 192);
        assert_eq!(effective_cap(100, Some(256)), 100);
        assert_eq!(effective_cap(1024, Some(10)), 1);
        assert_eq!(effective_cap(usize::MAX, None), u32::MAX >> 3);
    }
}
