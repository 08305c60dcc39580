//! Small luma frames and where their picture is: border detection (black bars, blurred
//! backgrounds, pillar boxes), picture-in-picture windows, and the crops ("views") each
//! frame is described by.
//!
//! `gray` (images, rectangles, resampling) <- `windows` <- `borders` (over time) <-
//! `views`; `config` holds every tuning number. Uses `kernels::descriptor` for the
//! packed 32x32 image; never `ingest`, `matching`, `store` or `job`.

pub mod borders;
pub mod config;
pub mod gray;
pub mod views;
pub mod windows;

#[cfg(test)]
mod tests;
