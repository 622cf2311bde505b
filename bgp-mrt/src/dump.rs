//! The router/collector hook behind `--mrt-dump DIR --mrt-interval S`: periodic
//! TABLE_DUMP_V2 snapshot files and a BGP4MP update log rotated with each snapshot, as
//! BIRD, FRR and GoBGP write them.
//!
//! Files in `DIR`: `rib.<unix-seconds>.mrt` (one per interval) and
//! `updates.<unix-seconds>.mrt` (messages and state changes since the previous snapshot).
//! Time is the caller's input (seconds and microseconds since the epoch).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use bgp_rib::Rib;
use bgp_wire::Message;

use crate::writer::{SessionId, SnapshotStats, UpdateLog, write_rib_snapshot};

/// Periodic MRT output of a collector or router.
#[derive(Debug)]
pub struct MrtDump {
    dir: PathBuf,
    interval: u64,
    next_snapshot: Option<u64>,
    log: Option<UpdateLog<BufWriter<File>>>,
}

impl MrtDump {
    /// Dump into `dir` (created if missing) every `interval` seconds (at least 1).
    pub fn new(dir: impl AsRef<Path>, interval: u64) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir.as_ref())?;
        Ok(MrtDump {
            dir: dir.as_ref().to_path_buf(),
            interval: interval.max(1),
            next_snapshot: None,
            log: None,
        })
    }

    fn log(&mut self, secs: u64) -> std::io::Result<&mut UpdateLog<BufWriter<File>>> {
        if self.log.is_none() {
            let f = File::create(self.dir.join(format!("updates.{secs}.mrt")))?;
            let mut l = UpdateLog::new(BufWriter::new(f));
            l.extended_time = true;
            self.log = Some(l);
        }
        self.log
            .as_mut()
            .ok_or_else(|| std::io::Error::other("update log"))
    }

    /// Log a BGP message received from a peer.
    pub fn message(
        &mut self,
        secs: u64,
        micros: u32,
        s: &SessionId,
        msg: &Message,
    ) -> std::io::Result<()> {
        let add_path = match msg {
            Message::Update(u) => u
                .nlri
                .iter()
                .chain(u.withdrawn.iter())
                .any(|n| n.path_id.is_some()),
            _ => false,
        };
        self.log(secs)?
            .message(secs as u32, micros, s, msg, add_path, false)
    }

    /// Log a state change (see [`crate::writer::state`]).
    pub fn state_change(
        &mut self,
        secs: u64,
        micros: u32,
        s: &SessionId,
        old: u16,
        new: u16,
    ) -> std::io::Result<()> {
        self.log(secs)?
            .state_change(secs as u32, micros, s, old, new)
    }

    /// Call periodically: when an interval has passed, writes a snapshot of `rib` and
    /// starts a new update log. Returns the snapshot's path and counts when it wrote one.
    pub fn tick(
        &mut self,
        secs: u64,
        rib: &Rib,
    ) -> std::io::Result<Option<(PathBuf, SnapshotStats)>> {
        let due = *self.next_snapshot.get_or_insert(secs + self.interval);
        if secs < due {
            if let Some(l) = &mut self.log {
                l.flush()?;
            }
            return Ok(None);
        }
        self.next_snapshot = Some(secs + self.interval);
        self.snapshot(secs, rib).map(Some)
    }

    /// Write a snapshot now and rotate the update log.
    pub fn snapshot(&mut self, secs: u64, rib: &Rib) -> std::io::Result<(PathBuf, SnapshotStats)> {
        if let Some(mut l) = self.log.take() {
            l.flush()?;
        }
        let path = self.dir.join(format!("rib.{secs}.mrt"));
        let tmp = self.dir.join(format!(".rib.{secs}.mrt.tmp"));
        let mut w = BufWriter::new(File::create(&tmp)?);
        let st = write_rib_snapshot(rib, secs as u32, &mut w)?;
        w.flush()?;
        drop(w);
        std::fs::rename(&tmp, &path)?;
        Ok((path, st))
    }

    /// Flush the update log (call at shutdown).
    pub fn flush(&mut self) -> std::io::Result<()> {
        match &mut self.log {
            Some(l) => l.flush(),
            None => Ok(()),
        }
    }
}
