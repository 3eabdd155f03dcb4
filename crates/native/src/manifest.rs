//! The parts of `spin.toml` (manifest version 2) that the harness acts on:
//! application variables, HTTP routes, and per component its variables,
//! `allowed_outbound_hosts` and mounted files. Everything else is ignored.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::Deserialize;

/// A parsed `spin.toml` and the folder it lives in (file sources are relative to it).
#[derive(Debug, Clone)]
pub struct Manifest {
    pub dir: PathBuf,
    pub variables: BTreeMap<String, VariableDecl>,
    pub http_routes: Vec<HttpRoute>,
    pub components: BTreeMap<String, Component>,
}

/// One entry of `[variables]`.
#[derive(Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VariableDecl {
    pub default: Option<String>,
    #[serde(default)]
    pub required: bool,
    #[serde(default)]
    pub secret: bool,
    pub description: Option<String>,
}

/// By hand, so that a secret's default never shows.
impl std::fmt::Debug for VariableDecl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let default = match &self.default {
            Some(_) if self.secret => Some("***"),
            other => other.as_deref(),
        };
        f.debug_struct("VariableDecl")
            .field("default", &default)
            .field("required", &self.required)
            .field("secret", &self.secret)
            .field("description", &self.description)
            .finish()
    }
}

/// One `[[trigger.http]]` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRoute {
    /// The route exactly as written, e.g. `/api/todos/...`.
    pub route: String,
    pub component: String,
}

#[derive(Debug, Clone, Default)]
pub struct Component {
    /// Templates such as `postgres://{{ db_host }}:{{ db_port }}`, unresolved.
    pub allowed_outbound_hosts: Vec<String>,
    /// Name → template, unresolved.
    pub variables: BTreeMap<String, String>,
    /// The folder mounted at `/`, if any, resolved against the manifest's folder.
    pub files_root: Option<PathBuf>,
}

#[derive(Deserialize)]
struct RawManifest {
    spin_manifest_version: u32,
    #[serde(default)]
    variables: BTreeMap<String, VariableDecl>,
    #[serde(default)]
    trigger: RawTriggers,
    #[serde(default)]
    component: BTreeMap<String, RawComponent>,
}

#[derive(Deserialize, Default)]
struct RawTriggers {
    #[serde(default)]
    http: Vec<RawHttpTrigger>,
}

#[derive(Deserialize)]
struct RawHttpTrigger {
    route: RawRoute,
    component: String,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawRoute {
    Path(String),
    Private { private: bool },
}

#[derive(Deserialize)]
struct RawComponent {
    #[serde(default)]
    allowed_outbound_hosts: Vec<String>,
    #[serde(default)]
    variables: BTreeMap<String, String>,
    #[serde(default)]
    files: Vec<RawFileMount>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawFileMount {
    Pattern(String),
    Mapping { source: String, destination: String },
}

impl Manifest {
    /// Reads and checks a manifest file.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the manifest {}", path.display()))?;
        let dir = path
            .parent()
            .map(Path::to_path_buf)
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or_else(|| PathBuf::from("."));
        Self::parse(&text, &dir).with_context(|| format!("invalid manifest {}", path.display()))
    }

    /// Parses manifest text; `dir` is the folder relative paths start from.
    pub fn parse(text: &str, dir: &Path) -> Result<Self> {
        let raw: RawManifest = toml::from_str(text)?;
        if raw.spin_manifest_version != 2 {
            bail!(
                "spin_manifest_version {} is not supported (only 2)",
                raw.spin_manifest_version
            );
        }
        for name in raw.variables.keys() {
            check_variable_name(name)?;
        }
        for (name, decl) in &raw.variables {
            if decl.required && decl.default.is_some() {
                bail!("variable {name} is required and has a default; choose one");
            }
        }

        let mut http_routes = Vec::new();
        for trigger in raw.trigger.http {
            match trigger.route {
                RawRoute::Path(route) => http_routes.push(HttpRoute {
                    route,
                    component: trigger.component,
                }),
                RawRoute::Private { private: true } => {}
                RawRoute::Private { private: false } => bail!(
                    "route must be a string or {{ private = true }}: component {} has {{ private = false }}",
                    trigger.component
                ),
            }
        }

        let mut components = BTreeMap::new();
        for (id, raw_component) in raw.component {
            for name in raw_component.variables.keys() {
                check_variable_name(name)
                    .with_context(|| format!("in [component.{id}.variables]"))?;
            }
            let mut files_root = None;
            for mount in raw_component.files {
                match mount {
                    RawFileMount::Mapping {
                        source,
                        destination,
                    } if destination == "/" => files_root = Some(dir.join(source)),
                    RawFileMount::Mapping { destination, .. } => bail!(
                        "component {id}: the native harness only mounts files at \"/\", not {destination:?}"
                    ),
                    RawFileMount::Pattern(pattern) => bail!(
                        "component {id}: the native harness does not support file patterns ({pattern:?}); \
                         use {{ source = \"...\", destination = \"/\" }}"
                    ),
                }
            }
            components.insert(
                id,
                Component {
                    allowed_outbound_hosts: raw_component.allowed_outbound_hosts,
                    variables: raw_component.variables,
                    files_root,
                },
            );
        }

        for route in &http_routes {
            if !components.contains_key(&route.component) {
                bail!(
                    "route {} names component {}, which is not defined",
                    route.route,
                    route.component
                );
            }
        }

        Ok(Self {
            dir: dir.to_path_buf(),
            variables: raw.variables,
            http_routes,
            components,
        })
    }
}

/// Spin's rule for variable names: lowercase ASCII letters, digits and `_`,
/// starting with a letter.
fn check_variable_name(name: &str) -> Result<()> {
    let mut chars = name.chars();
    let starts_well = chars.next().is_some_and(|c| c.is_ascii_lowercase());
    if starts_well
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && !name.ends_with('_')
        && !name.contains("__")
    {
        Ok(())
    } else {
        bail!(
            "invalid variable name {name:?}: use lowercase letters, digits and single underscores"
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"
        spin_manifest_version = 2
        [application]
        name = "sample"
        [variables]
        db_host = { default = "127.0.0.1" }
        token = { required = true, secret = true }
        [[trigger.http]]
        route = "/api/..."
        component = "api"
        [[trigger.http]]
        route = { private = true }
        component = "web"
        [component.api]
        source = "api.wasm"
        allowed_outbound_hosts = ["postgres://{{ db_host }}:5432"]
        [component.api.variables]
        db_host = "{{ db_host }}"
        [component.web]
        source = "web.wasm"
        files = [{ source = "static", destination = "/" }]
    "#;

    #[test]
    fn a_manifest_yields_routes_variables_and_components() {
        let m = Manifest::parse(SAMPLE, Path::new("/app")).unwrap();
        assert_eq!(
            m.http_routes,
            vec![HttpRoute {
                route: "/api/...".into(),
                component: "api".into()
            }]
        );
        assert_eq!(m.variables["db_host"].default.as_deref(), Some("127.0.0.1"));
        assert!(m.variables["token"].required);
        assert_eq!(
            m.components["api"].allowed_outbound_hosts,
            vec!["postgres://{{ db_host }}:5432"]
        );
        assert_eq!(
            m.components["web"].files_root,
            Some(PathBuf::from("/app/static"))
        );
        assert_eq!(m.components["api"].files_root, None);
    }

    #[test]
    fn a_secrets_default_is_left_out_of_the_debug_output() {
        let text = SAMPLE.replace(
            "token = { required = true, secret = true }",
            "token = { default = \"sk-secret\", secret = true }",
        );
        let m = Manifest::parse(&text, Path::new("/app")).unwrap();
        assert_eq!(m.variables["token"].default.as_deref(), Some("sk-secret"));
        let shown = format!("{m:?}");
        assert!(!shown.contains("sk-secret"), "{shown}");
        assert!(shown.contains("127.0.0.1"), "{shown}");
    }

    #[test]
    fn a_route_to_an_undefined_component_is_rejected() {
        let text = SAMPLE.replace("component = \"api\"", "component = \"nope\"");
        let err = Manifest::parse(&text, Path::new("/app")).unwrap_err();
        assert!(err.to_string().contains("nope"), "{err}");
    }

    #[test]
    fn variable_names_follow_spins_rules() {
        for good in ["a", "db_host", "x1"] {
            assert!(check_variable_name(good).is_ok(), "{good}");
        }
        for bad in ["", "Db", "1x", "_x", "x_", "a__b", "a-b"] {
            assert!(check_variable_name(bad).is_err(), "{bad}");
        }
    }
}
