//! Authentication: password hashing, access tokens (JWT), refresh tokens, and finding the
//! caller of a request.

pub mod password;
pub mod principal;
pub mod tokens;

pub use principal::Principal;
