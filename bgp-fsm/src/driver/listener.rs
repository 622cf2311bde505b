//! [`Listener`]: one listening socket shared by many peers.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

use super::sockopt;

/// Per peer address: the registration number of the session that owns it, and where its
/// connections go.
type Peers = Mutex<HashMap<IpAddr, (u64, mpsc::Sender<TcpStream>)>>;

/// A listening socket shared by many peers: each accepted connection goes to the peer whose
/// address matches its source address; connections from unknown addresses are closed.
#[derive(Debug, Clone)]
pub struct Listener {
    inner: Arc<ListenerInner>,
}

#[derive(Debug)]
struct ListenerInner {
    socket: Arc<TcpListener>,
    local: SocketAddr,
    peers: Arc<Peers>,
    next_id: std::sync::atomic::AtomicU64,
    task: tokio::task::AbortHandle,
}

impl Drop for ListenerInner {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

impl Listener {
    /// Listen on an address (e.g. `0.0.0.0:179` or `[::]:179`).
    pub async fn bind(addr: SocketAddr) -> io::Result<Listener> {
        let socket = Arc::new(TcpListener::bind(addr).await?);
        let local = socket.local_addr()?;
        // Accepted connections answer with TTL 255 from their very first segment, so GTSM
        // peers (which drop anything below 254) accept our SYN-ACK; a higher TTL than needed
        // is harmless for the others.
        let sref = socket2::SockRef::from(&*socket);
        if local.is_ipv6() {
            let _ = sref.set_unicast_hops_v6(255);
        } else {
            let _ = sref.set_ttl(255);
        }
        let peers: Arc<Peers> = Arc::new(Mutex::new(HashMap::new()));
        let weak = Arc::downgrade(&peers);
        let task = tokio::spawn(accept_loop(socket.clone(), weak)).abort_handle();
        Ok(Listener {
            inner: Arc::new(ListenerInner {
                socket,
                local,
                peers,
                next_id: std::sync::atomic::AtomicU64::new(1),
                task,
            }),
        })
    }

    /// The bound address (with the actual port when bound to port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.inner.local
    }

    /// Route `peer`'s connections to a new session (replacing an older registration) and
    /// install its MD5 key. Returns the connections and the registration number that
    /// [`Listener::unregister`] needs.
    pub(super) fn register(
        &self,
        peer: IpAddr,
        md5: Option<&str>,
    ) -> io::Result<(mpsc::Receiver<TcpStream>, u64)> {
        if let Some(key) = md5 {
            sockopt::set_md5(
                &*self.inner.socket,
                self.inner.local.is_ipv6(),
                peer,
                key.as_bytes(),
            )?;
        }
        let (tx, rx) = mpsc::channel(2);
        let id = self
            .inner
            .next_id
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if let Ok(mut m) = self.inner.peers.lock() {
            m.insert(canonical(peer), (id, tx));
        }
        Ok((rx, id))
    }

    /// End registration `id` of `peer`: its entry and MD5 key are removed only if no newer
    /// session registered the same address meanwhile (a replaced session's teardown must not
    /// take the new session's connections or key away).
    pub(super) fn unregister(&self, peer: IpAddr, id: u64, had_md5: bool) {
        let ours = match self.inner.peers.lock() {
            Ok(mut m) => {
                let key = canonical(peer);
                let ours = m.get(&key).is_some_and(|(owner, _)| *owner == id);
                if ours {
                    m.remove(&key);
                }
                ours
            }
            Err(_) => false,
        };
        if ours && had_md5 {
            let _ = sockopt::set_md5(&*self.inner.socket, self.inner.local.is_ipv6(), peer, &[]);
        }
    }

    /// Whether connections from `peer` currently go to a session.
    pub fn is_registered(&self, peer: IpAddr) -> bool {
        self.inner
            .peers
            .lock()
            .is_ok_and(|m| m.contains_key(&canonical(peer)))
    }
}

async fn accept_loop(socket: Arc<TcpListener>, peers: Weak<Peers>) {
    loop {
        let (stream, from) = match socket.accept().await {
            Ok(x) => x,
            Err(e) => {
                tracing::debug!("accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Some(peers) = peers.upgrade() else { return };
        let tx = peers
            .lock()
            .ok()
            .and_then(|m| m.get(&canonical(from.ip())).map(|(_, tx)| tx.clone()));
        match tx {
            Some(tx) => {
                if tx.try_send(stream).is_err() {
                    tracing::debug!("peer {from} busy; incoming connection dropped");
                }
            }
            None => tracing::debug!("connection from unconfigured {from} refused"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_replaced_registration_does_not_remove_the_new_one() {
        let l = Listener::bind("127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let peer: IpAddr = "127.0.0.2".parse().unwrap();
        let (_old_rx, old) = l.register(peer, None).unwrap();
        let (_new_rx, new) = l.register(peer, None).unwrap();
        assert_ne!(old, new);
        // The old session's teardown comes after the new session registered.
        l.unregister(peer, old, false);
        assert!(l.is_registered(peer), "the new session keeps its entry");
        l.unregister(peer, new, false);
        assert!(!l.is_registered(peer));
        // An IPv4-mapped form is the same peer.
        let (_rx, id) = l
            .register("::ffff:127.0.0.2".parse().unwrap(), None)
            .unwrap();
        assert!(l.is_registered(peer));
        l.unregister(peer, id, false);
        assert!(!l.is_registered(peer));
    }
}
