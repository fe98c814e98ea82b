pub mod accounts;
pub mod blobs;
pub mod cache;
pub mod files;
pub mod otp;
pub mod quota;
pub mod replay;
pub mod vault;
