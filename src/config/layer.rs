//! One layer of the settings: its values and the name its errors give, as a figment
//! provider. Shared by the files' layers (`load`) and the variables' (`env`).

use figment::value::{Dict, Map};
use figment::{Metadata, Profile, Provider};

/// One layer: its values, and the name its errors give (a file's path, a variable's name).
pub(super) struct Layer {
    pub(super) name: String,
    pub(super) values: Dict,
}

impl Provider for Layer {
    fn metadata(&self) -> Metadata {
        Metadata::named(self.name.clone())
    }

    fn data(&self) -> figment::Result<Map<Profile, Dict>> {
        Ok(Profile::Default.collect(self.values.clone()))
    }
}
