//! PLACEHOLDER: endpoints of this controller are being written.

use super::docs::{EndpointDoc, Routes};

/// Documentation of this module's endpoints.
pub const DOCS: &[EndpointDoc] = &[];

/// Registers this module's routes.
pub fn routes(_r: &mut Routes) {}
