//! The queue: one lane per [`Priority`], and the order in which workers take from them.
//!
//! A task submitted without a priority goes to the `Normal` lane. While the other two lanes
//! are empty, taking a task costs what it cost with a single queue plus a look at whether they
//! are empty: four loads of lines that nothing writes while those lanes are unused, so they
//! stay in every core's cache.
//!
//! The starvation guard is a share of turns: of every [`TURNS`] tasks a worker takes while
//! prioritised work is queued, one looks at `Normal` first and one at `Low` first; the others
//! look at `High` first. So however much high-priority work arrives, each worker still takes
//! at least one waiting normal task and one waiting low task in every `TURNS` it takes.
//!
//! A worker that finds the `High` and `Low` lanes empty may miss a task sent to them at that
//! very moment; it takes it on its next look, and a worker about to sleep waits on every lane
//! at once, so nothing is missed for good.

use super::Queued;
use super::priority::Priority;
use super::room::Room;
use crossbeam_channel::{Receiver, Sender, TrySendError};

/// A worker's turns come in rounds of this many.
pub(crate) const TURNS: u32 = 8;

/// One lane: a bounded (or unbounded) channel and the room where its submitters wait.
pub(crate) struct Lane {
    pub(crate) tx: Sender<Queued>,
    pub(crate) rx: Receiver<Queued>,
    pub(crate) room: Room,
}

/// The three lanes, indexed by `Priority as usize` (`High` first).
pub(crate) struct Lanes {
    lanes: [Lane; 3],
}

impl Lanes {
    /// Three lanes of `capacity` tasks each (`None`: unbounded).
    pub(crate) fn new(capacity: Option<usize>) -> Self {
        let lane = || {
            let (tx, rx) = match capacity {
                Some(capacity) => crossbeam_channel::bounded(capacity),
                None => crossbeam_channel::unbounded(),
            };
            Lane {
                tx,
                rx,
                room: Room::new(capacity),
            }
        };
        Lanes {
            lanes: [lane(), lane(), lane()],
        }
    }

    #[inline]
    pub(crate) fn lane(&self, priority: Priority) -> &Lane {
        &self.lanes[priority as usize]
    }

    /// Sends into `priority`'s lane without waiting.
    #[inline]
    pub(crate) fn try_send(
        &self,
        priority: Priority,
        queued: Queued,
    ) -> Result<(), TrySendError<Queued>> {
        self.lane(priority).tx.try_send(queued)
    }

    /// The next task for a worker whose turn counter is `turn`, if any lane holds one.
    #[inline]
    pub(crate) fn try_take(&self, turn: &mut u32) -> Option<Queued> {
        if self.lane(Priority::High).rx.is_empty() && self.lane(Priority::Low).rx.is_empty() {
            return self.take_from(Priority::Normal);
        }
        let order = order(*turn);
        *turn = turn.wrapping_add(1);
        order
            .into_iter()
            .find_map(|priority| self.take_from(priority))
    }

    /// Any queued task, `High` first: for draining a closed pool.
    pub(crate) fn take_any(&self) -> Option<Queued> {
        Priority::ALL
            .into_iter()
            .find_map(|priority| self.take_from(priority))
    }

    #[inline]
    fn take_from(&self, priority: Priority) -> Option<Queued> {
        let queued = self.lane(priority).rx.try_recv().ok()?;
        Some(self.took(priority, queued))
    }

    /// Bookkeeping after a task left `priority`'s lane, however it was received: the count
    /// of prioritised tasks, and a submitter waiting for room in that lane.
    #[inline]
    pub(crate) fn took(&self, priority: Priority, queued: Queued) -> Queued {
        let lane = self.lane(priority);
        lane.room.taken(|| lane.rx.len());
        queued
    }

    /// Tasks queued in all lanes.
    pub(crate) fn len(&self) -> usize {
        self.lanes.iter().map(|lane| lane.rx.len()).sum()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.lanes.iter().all(|lane| lane.rx.is_empty())
    }

    /// Each lane's capacity.
    pub(crate) fn capacity(&self) -> Option<usize> {
        self.lane(Priority::Normal).tx.capacity()
    }

    /// Wakes the submitters waiting for room in any lane: the pool is closing.
    pub(crate) fn wake_all(&self) {
        for lane in &self.lanes {
            lane.room.wake_all();
        }
    }
}

/// The order in which turn `turn` looks at the lanes.
#[inline]
pub(crate) fn order(turn: u32) -> [Priority; 3] {
    use Priority::{High, Low, Normal};
    match turn % TURNS {
        3 => [Normal, Low, High],
        7 => [Low, Normal, High],
        _ => [High, Normal, Low],
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use Priority::{High, Low, Normal};

    #[test]
    fn every_round_of_turns_gives_each_lane_its_share() {
        for start in 0..TURNS {
            let firsts: Vec<Priority> = (start..start + TURNS).map(|t| order(t)[0]).collect();
            let count = |p| firsts.iter().filter(|&&f| f == p).count();
            assert_eq!((count(High), count(Normal), count(Low)), (6, 1, 1));
        }
    }

    #[test]
    fn each_order_names_every_lane_once() {
        for turn in 0..TURNS {
            let mut lanes = order(turn);
            lanes.sort_by_key(|p| *p as usize);
            assert_eq!(lanes, [High, Normal, Low]);
        }
    }
}
