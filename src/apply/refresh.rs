//! Drift: the state compared with the live engine in one list call by label.

use crate::descriptor::project::Project;
use crate::error::{Error, Result};
use crate::plan::planner::Drift;
use crate::state::State;

pub fn drift(_project: &Project, _env: &str, _state: &State) -> Result<Drift> {
    Err(Error::msg(
        "plan --refresh needs the Docker runtime, which is not wired in yet",
    ))
}
