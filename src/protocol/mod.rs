//! The Redis wire protocol: parsing requests ([`parse`]) and encoding
//! replies ([`reply`]) in RESP2 or RESP3.

pub mod parse;
pub mod reply;

pub use parse::{peek_key, Args, Limits, Parsed, Parser, ProtocolError};
pub use reply::{Protocol, ReplyBuffer};
