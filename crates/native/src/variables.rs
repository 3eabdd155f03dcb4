//! Spin's variables, resolved the way `spin up` resolves them: an application
//! variable's value comes from `SPIN_VARIABLE_<NAME>` if set, else its
//! `default`; a component sees only the names in its
//! `[component.X.variables]` table, whose values are templates over the
//! application variables. Tests add a layer on top (an in-process map), since
//! they run in parallel in one process and cannot use its environment.

use std::collections::{BTreeMap, HashMap};

use anyhow::{anyhow, bail, Result};
use todo_core::ports::Variables;

use crate::manifest::{Component, Manifest};

/// The prefix of Spin's environment-variable provider.
pub const ENV_PREFIX: &str = "SPIN_VARIABLE_";

/// The environment variable that sets application variable `name`.
pub fn env_name(name: &str) -> String {
    format!("{ENV_PREFIX}{}", name.to_ascii_uppercase())
}

/// Resolved application variables (`[variables]`).
#[derive(Clone)]
pub struct AppVariables {
    /// `None`: a required variable that nothing set.
    values: BTreeMap<String, Option<String>>,
}

// Some values are secrets (`jwt_secret`, `db_password`, `qwen_api_key`),
// so the Debug output of variables names them without their values.
impl std::fmt::Debug for AppVariables {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppVariables")
            .field("names", &self.values.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl AppVariables {
    /// Defaults from the manifest, overridden by the process environment,
    /// overridden by `overrides` (which may only name declared variables).
    pub fn resolve(manifest: &Manifest, overrides: &HashMap<String, String>) -> Result<Self> {
        Self::resolve_with(manifest, |name| std::env::var(name).ok(), overrides)
    }

    /// [`resolve`](Self::resolve) with an explicit environment, for tests.
    pub fn resolve_with(
        manifest: &Manifest,
        env: impl Fn(&str) -> Option<String>,
        overrides: &HashMap<String, String>,
    ) -> Result<Self> {
        if let Some(unknown) = overrides
            .keys()
            .find(|name| !manifest.variables.contains_key(*name))
        {
            bail!("cannot override {unknown}: spin.toml declares no such variable");
        }
        let values = manifest
            .variables
            .iter()
            .map(|(name, decl)| {
                let value = overrides
                    .get(name)
                    .cloned()
                    .or_else(|| env(&env_name(name)))
                    .or_else(|| decl.default.clone());
                (name.clone(), value)
            })
            .collect();
        Ok(Self { values })
    }

    /// An application variable's value; `None` if undeclared or unset.
    pub fn value(&self, name: &str) -> Option<&str> {
        self.values.get(name).and_then(|v| v.as_deref())
    }

    /// Expands every `{{ name }}` in `template`.
    pub fn render(&self, template: &str) -> Result<String> {
        let mut out = String::with_capacity(template.len());
        let mut rest = template;
        while let Some(start) = rest.find("{{") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let end = after
                .find("}}")
                .ok_or_else(|| anyhow!("unclosed '{{{{' in template {template:?}"))?;
            let name = after[..end].trim();
            let value = match self.values.get(name) {
                Some(Some(v)) => v,
                Some(None) => bail!(
                    "required variable {name} has no value; set {}",
                    env_name(name)
                ),
                None => bail!("template {template:?} uses undeclared variable {name:?}"),
            };
            out.push_str(value);
            rest = &after[end + 2..];
        }
        if rest.contains("}}") {
            bail!("stray '}}}}' in template {template:?}");
        }
        out.push_str(rest);
        Ok(out)
    }

    /// The variables `component` may read, with their templates expanded.
    pub fn for_component(&self, component: &Component) -> Result<ComponentVariables> {
        component
            .variables
            .iter()
            .map(|(name, template)| Ok((name.clone(), self.render(template)?)))
            .collect::<Result<_>>()
            .map(ComponentVariables)
    }
}

/// Application-level reads, as tools outside any component (the migrator) need.
impl Variables for AppVariables {
    fn get(&self, name: &str) -> Option<String> {
        self.value(name).map(str::to_owned)
    }
}

/// What `spin_sdk::variables::get` returns inside one component.
#[derive(Clone, Default)]
pub struct ComponentVariables(HashMap<String, String>);

impl std::fmt::Debug for ComponentVariables {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut names: Vec<&String> = self.0.keys().collect();
        names.sort();
        f.debug_struct("ComponentVariables")
            .field("names", &names)
            .finish_non_exhaustive()
    }
}

impl Variables for ComponentVariables {
    fn get(&self, name: &str) -> Option<String> {
        self.0.get(name).cloned()
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn manifest() -> Manifest {
        Manifest::parse(
            r#"
            spin_manifest_version = 2
            [application]
            name = "t"
            [variables]
            db_host = { default = "127.0.0.1" }
            db_port = { default = "5432" }
            api_key = { required = true }
            [component.c]
            source = "c.wasm"
            [component.c.variables]
            db_host = "{{ db_host }}"
            address = "{{db_host}}:{{ db_port }}"
            "#,
            Path::new("."),
        )
        .unwrap()
    }

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn debug_output_names_the_variables_without_their_values() {
        let m = manifest();
        let overrides = HashMap::from([("api_key".to_owned(), "sk-secret".to_owned())]);
        let vars = AppVariables::resolve_with(&m, no_env, &overrides).unwrap();
        let component = vars.for_component(&m.components["c"]).unwrap();
        for shown in [format!("{vars:?}"), format!("{component:?}")] {
            assert!(shown.contains("db_host"), "{shown}");
            assert!(!shown.contains("sk-secret"), "{shown}");
            assert!(!shown.contains("127.0.0.1"), "{shown}");
        }
    }

    #[test]
    fn defaults_apply_when_nothing_overrides_them() {
        let vars = AppVariables::resolve_with(&manifest(), no_env, &HashMap::new()).unwrap();
        assert_eq!(vars.value("db_host"), Some("127.0.0.1"));
        assert_eq!(vars.value("api_key"), None);
    }

    #[test]
    fn the_environment_beats_defaults_and_overrides_beat_the_environment() {
        let env = |name: &str| (name == "SPIN_VARIABLE_DB_HOST").then(|| "db.env".to_owned());
        let vars = AppVariables::resolve_with(&manifest(), env, &HashMap::new()).unwrap();
        assert_eq!(vars.value("db_host"), Some("db.env"));

        let overrides = HashMap::from([("db_host".to_owned(), "db.test".to_owned())]);
        let vars = AppVariables::resolve_with(&manifest(), env, &overrides).unwrap();
        assert_eq!(vars.value("db_host"), Some("db.test"));
    }

    #[test]
    fn overriding_an_undeclared_variable_is_an_error() {
        let overrides = HashMap::from([("nope".to_owned(), "x".to_owned())]);
        assert!(AppVariables::resolve_with(&manifest(), no_env, &overrides).is_err());
    }

    #[test]
    fn a_component_sees_only_its_own_variables_with_templates_expanded() {
        let m = manifest();
        let vars = AppVariables::resolve_with(&m, no_env, &HashMap::new()).unwrap();
        let component = vars.for_component(&m.components["c"]).unwrap();
        assert_eq!(component.get("db_host").as_deref(), Some("127.0.0.1"));
        assert_eq!(component.get("address").as_deref(), Some("127.0.0.1:5432"));
        assert_eq!(component.get("db_port"), None);
        assert_eq!(component.get("api_key"), None);
    }

    #[test]
    fn templates_render_literals_and_reject_unknown_or_unset_names() {
        let vars = AppVariables::resolve_with(&manifest(), no_env, &HashMap::new()).unwrap();
        let table = [
            ("plain", Some("plain")),
            (
                "postgres://{{ db_host }}:{{db_port}}",
                Some("postgres://127.0.0.1:5432"),
            ),
            ("{{ nope }}", None),
            ("{{ api_key }}", None),
            ("{{ db_host ", None),
            ("x }}", None),
        ];
        for (template, want) in table {
            assert_eq!(vars.render(template).ok().as_deref(), want, "{template}");
        }
    }
}
