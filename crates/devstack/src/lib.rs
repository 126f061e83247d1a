//! devstack: the whole platform on one machine, no containers.
//!
//! `devstack up` finds PostgreSQL's binaries and the already-built service
//! binaries ([`paths`], [`postgres`]), checks every port it needs is free
//! ([`ports`]), creates or reuses the cluster in the data directory, gives
//! every service its role and database ([`postgres::provision`]), starts
//! the event broker ([`broker`]), the edge ([`edge`]) and the services in dependency order with the
//! environment each needs ([`services`]), waits on each `/readyz`
//! ([`probe`]), and then supervises them ([`stack`], [`children`]) until a
//! signal or a death stops everything in order. `devstack status`,
//! `devstack psql` and `devstack dump`/`restore` ([`dump`]) find the stack
//! through [`state`].

pub mod admin;
pub mod broker;
pub mod children;
pub mod cli;
pub mod dump;
pub mod edge;
pub mod keys;
pub mod output;
pub mod paths;
pub mod ports;
pub mod postgres;
pub mod probe;
pub mod psql;
pub mod services;
pub mod stack;
pub mod state;
pub mod status;
pub mod up;
