//! Records shared by the store and the services, a layer below both of them: what a
//! source found ([`mention`]), the reply queue's item and its state machine ([`queue`]), where
//! a reply goes in a thread ([`reply`]), a post's pictures and their uploads ([`media`]), and the alert level and event ([`alert`]). The store
//! keeps them and the services make and read them, so neither has to import the other's
//! module for its types. Pure data and pure functions: no IO, no clock, no store.

pub mod alert;
pub mod media;
pub mod mention;
pub mod queue;
pub mod reply;

pub use alert::{AlertEvent, AlertLevel};
pub use media::{Focus, PostMedia, Upload};
pub use mention::Mention;
pub use queue::{Action, PostRef, Priority, QueueItem, ReplyState, TransitionError};
pub use reply::{ReplyTo, StrongRef};
