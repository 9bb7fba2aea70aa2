//! Conversions between the descriptor's model (what compartment.yml asks
//! for) and the state's applied records (what was applied). They live here,
//! in the layer that knows both, so that `state` does not depend on
//! `descriptor`: a descriptor field the state does not record yet gets its
//! default when a definition is rebuilt from the state.

use crate::descriptor::model as d;
use crate::state::applied as a;

impl From<&d::ResourceDef> for a::ResourceConfig {
    fn from(def: &d::ResourceDef) -> Self {
        a::ResourceConfig {
            preset: def.preset.clone(),
            image: def.image.clone(),
            command: def.command.clone(),
            env: def.env.clone(),
            generated_variables: def
                .generated_variables
                .iter()
                .map(|(k, g)| {
                    let g = a::GeneratedVariable {
                        generator: g.generator.clone(),
                        bytes: g.bytes,
                        encoding: g.encoding.clone(),
                        file: g.file,
                    };
                    (k.clone(), g)
                })
                .collect(),
            ports: def.ports.clone(),
            outputs: def
                .outputs
                .iter()
                .map(|(k, o)| {
                    let o = a::Output {
                        sensitive: o.sensitive,
                        value: o.value.clone(),
                    };
                    (k.clone(), o)
                })
                .collect(),
            volumes: def.volumes.clone(),
            readiness: def.readiness.as_ref().map(applied_readiness),
            restart: def.restart.clone(),
            operations: a::Operations::from(&def.operations),
        }
    }
}

impl From<&a::ResourceConfig> for d::ResourceDef {
    fn from(c: &a::ResourceConfig) -> Self {
        d::ResourceDef {
            preset: c.preset.clone(),
            image: c.image.clone(),
            command: c.command.clone(),
            env: c.env.clone(),
            generated_variables: c
                .generated_variables
                .iter()
                .map(|(k, g)| {
                    let g = d::GeneratedVariable {
                        generator: g.generator.clone(),
                        bytes: g.bytes,
                        encoding: g.encoding.clone(),
                        file: g.file,
                    };
                    (k.clone(), g)
                })
                .collect(),
            ports: c.ports.clone(),
            outputs: c
                .outputs
                .iter()
                .map(|(k, o)| {
                    let o = d::OutputDef {
                        sensitive: o.sensitive,
                        value: o.value.clone(),
                    };
                    (k.clone(), o)
                })
                .collect(),
            volumes: c.volumes.clone(),
            readiness: c.readiness.as_ref().map(declared_readiness),
            restart: c.restart.clone(),
            operations: d::Operations::from(&c.operations),
        }
    }
}

fn applied_readiness(r: &d::Readiness) -> a::Readiness {
    a::Readiness {
        kind: r.kind.clone(),
        port: r.port,
        path: r.path.clone(),
        expect_status: r.expect_status,
        command: r.command.clone(),
        timeout_ms: r.timeout_ms,
    }
}

fn declared_readiness(r: &a::Readiness) -> d::Readiness {
    d::Readiness {
        kind: r.kind.clone(),
        port: r.port,
        path: r.path.clone(),
        expect_status: r.expect_status,
        command: r.command.clone(),
        timeout_ms: r.timeout_ms,
    }
}

impl From<&d::Operations> for a::Operations {
    fn from(o: &d::Operations) -> Self {
        a::Operations {
            backup: o.backup.as_ref().map(|b| a::BackupOperation {
                operation: a::Operation::from(&b.operation),
                schedule: b.schedule.as_ref().map(|s| match s {
                    d::Schedule::Interval(x) => a::Schedule::Interval(x.clone()),
                    d::Schedule::Cron(x) => a::Schedule::Cron(x.clone()),
                }),
                retention: b.retention.as_ref().map(|r| a::Retention {
                    keep_last: r.keep_last,
                    max_age_days: r.max_age_days,
                    include_manual: r.include_manual,
                }),
                verify_scheduled: b.verify_scheduled,
            }),
            restore: o.restore.as_ref().map(a::Operation::from),
            verify: o.verify.as_ref().map(a::Operation::from),
        }
    }
}

impl From<&a::Operations> for d::Operations {
    fn from(o: &a::Operations) -> Self {
        d::Operations {
            backup: o.backup.as_ref().map(|b| d::BackupOperation {
                operation: d::Operation::from(&b.operation),
                schedule: b.schedule.as_ref().map(|s| match s {
                    a::Schedule::Interval(x) => d::Schedule::Interval(x.clone()),
                    a::Schedule::Cron(x) => d::Schedule::Cron(x.clone()),
                }),
                retention: b.retention.as_ref().map(|r| d::Retention {
                    keep_last: r.keep_last,
                    max_age_days: r.max_age_days,
                    include_manual: r.include_manual,
                }),
                verify_scheduled: b.verify_scheduled,
            }),
            restore: o.restore.as_ref().map(d::Operation::from),
            verify: o.verify.as_ref().map(d::Operation::from),
        }
    }
}

impl From<&d::Operation> for a::Operation {
    fn from(o: &d::Operation) -> Self {
        a::Operation {
            command: o.command.clone(),
            image: o.image.clone(),
            env: o.env.clone(),
        }
    }
}

impl From<&a::Operation> for d::Operation {
    fn from(o: &a::Operation) -> Self {
        d::Operation {
            command: o.command.clone(),
            image: o.image.clone(),
            env: o.env.clone(),
        }
    }
}

impl From<&d::ServiceDef> for a::ServiceConfig {
    fn from(def: &d::ServiceDef) -> Self {
        a::ServiceConfig {
            path: def.path.clone(),
            connections: def
                .connections
                .iter()
                .map(|(k, c)| (k.clone(), a::Connection { env: c.env.clone() }))
                .collect(),
            build: a::Build {
                env: def.build.env.clone(),
            },
            ingress: def.ingress.as_ref().map(|i| a::Ingress { port: i.port }),
            readiness: def.readiness.as_ref().map(applied_readiness),
            stop_grace_period: def.stop_grace_period,
            keep_releases: def.keep_releases,
            replicas: def.replicas,
        }
    }
}

impl From<&a::ServiceConfig> for d::ServiceDef {
    fn from(c: &a::ServiceConfig) -> Self {
        d::ServiceDef {
            path: c.path.clone(),
            connections: c
                .connections
                .iter()
                .map(|(k, c)| (k.clone(), d::Connection { env: c.env.clone() }))
                .collect(),
            build: d::Build {
                env: c.build.env.clone(),
            },
            ingress: c.ingress.as_ref().map(|i| d::Ingress { port: i.port }),
            readiness: c.readiness.as_ref().map(declared_readiness),
            stop_grace_period: c.stop_grace_period,
            keep_releases: c.keep_releases,
            replicas: c.replicas,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn resource() -> d::ResourceDef {
        d::ResourceDef {
            preset: Some("postgres".into()),
            image: "postgres:16".into(),
            command: Some(vec!["postgres".into()]),
            env: BTreeMap::from([("A".into(), "1".into())]),
            generated_variables: BTreeMap::from([("P".into(), d::GeneratedVariable::default())]),
            ports: vec![5432],
            outputs: BTreeMap::from([(
                "url".into(),
                d::OutputDef {
                    sensitive: true,
                    value: "${env.P}".into(),
                },
            )]),
            volumes: BTreeMap::from([("data".into(), "/data".into())]),
            readiness: Some(d::Readiness {
                kind: "command".into(),
                port: None,
                path: None,
                expect_status: None,
                command: Some(vec!["pg_isready".into()]),
                timeout_ms: 1000,
            }),
            restart: "always".into(),
            operations: d::Operations {
                backup: Some(d::BackupOperation {
                    operation: d::Operation {
                        command: "dump".into(),
                        image: Some("x".into()),
                        env: BTreeMap::from([("B".into(), "2".into())]),
                    },
                    schedule: Some(d::Schedule::Cron("0 2 * * *".into())),
                    retention: Some(d::Retention {
                        keep_last: Some(3),
                        max_age_days: None,
                        include_manual: true,
                    }),
                    verify_scheduled: true,
                }),
                restore: Some(d::Operation {
                    command: "load".into(),
                    image: None,
                    env: BTreeMap::new(),
                }),
                verify: Some(d::Operation {
                    command: "check".into(),
                    image: None,
                    env: BTreeMap::new(),
                }),
            },
        }
    }

    fn service() -> d::ServiceDef {
        d::ServiceDef {
            path: "services/api".into(),
            connections: BTreeMap::from([(
                "db".into(),
                d::Connection {
                    env: BTreeMap::from([("DATABASE_URL".into(), "url".into())]),
                },
            )]),
            build: d::Build {
                env: BTreeMap::from([("V".into(), Some("1".into())), ("W".into(), None)]),
            },
            ingress: Some(d::Ingress { port: 8080 }),
            readiness: Some(d::Readiness {
                kind: "http".into(),
                port: Some(8080),
                path: Some("/health".into()),
                expect_status: Some(200),
                command: None,
                timeout_ms: 30_000,
            }),
            stop_grace_period: Some(45),
            keep_releases: Some(1),
            replicas: None,
        }
    }

    /// The applied records are written exactly as the descriptor model
    /// serialises today, so digests and plan diffs of existing states hold.
    #[test]
    fn applied_records_round_trip_and_serialise_like_the_descriptor_model() {
        let r = resource();
        let applied = a::ResourceConfig::from(&r);
        assert_eq!(d::ResourceDef::from(&applied), r);
        assert_eq!(
            serde_json::to_value(&applied).unwrap(),
            serde_json::to_value(&r).unwrap()
        );
        let s = service();
        let applied = a::ServiceConfig::from(&s);
        assert_eq!(d::ServiceDef::from(&applied), s);
        assert_eq!(
            serde_json::to_value(&applied).unwrap(),
            serde_json::to_value(&s).unwrap()
        );
    }
}
