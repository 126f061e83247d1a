//! The lang service: localised greetings.
//!
//! [`language`] parses language tags and decides the fallback order,
//! [`template`] checks and renders message templates, [`store`] keeps
//! languages, templates and preferences, and [`service`] is the REST surface
//! under `/lang/`.

pub mod config;
pub mod language;
pub mod service;
pub mod startup;
pub mod store;
pub mod template;

pub use config::Config;
pub use startup::build;
