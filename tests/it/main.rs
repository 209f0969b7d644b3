//! herald's one integration-test binary: the `herald` executable run as a user would, on copies
//! of the checked-in `content-plan/` and `keywords/`.

mod alerts;
mod check;
mod crash;
mod crisis_live;
mod engage;
mod first_hour;
mod helpers;
mod inbox;
mod layering;
mod listen;
mod listen_pages;
mod media;
mod multiprocess;
mod peers;
mod pg;
mod plan;
mod publish;
mod replay;
mod report;
mod report_cli;
mod run;
mod search;
mod store;
mod supervise;
mod web;
