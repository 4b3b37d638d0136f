use super::*;
use crate::apimodel::models::ContainerSummary;
use indexmap::IndexMap;
use rrun_compose::model::{DependsOn, Network, Volume};

fn service(name: &str) -> Service {
    Service {
        name: name.into(),
        image: Some("busybox".into()),
        replicas: 1,
        ..Default::default()
    }
}

fn depends(on: &str, condition: DependsCondition) -> IndexMap<String, DependsOn> {
    IndexMap::from([(
        on.to_string(),
        DependsOn {
            condition,
            restart: false,
            required: true,
        },
    )])
}

/// The seed's shape: app depends on a healthy db; a named volume.
fn project() -> Project {
    let db = service("db");
    let mut app = service("app");
    app.depends_on = depends("db", DependsCondition::ServiceHealthy);
    Project {
        name: "p".into(),
        services: IndexMap::from([("app".into(), app), ("db".into(), db)]),
        networks: IndexMap::from([(
            "default".into(),
            Network {
                name: "p_default".into(),
                ..Default::default()
            },
        )]),
        volumes: IndexMap::from([(
            "dbdata".into(),
            Volume {
                name: "p_dbdata".into(),
                ..Default::default()
            },
        )]),
        ..Default::default()
    }
}

/// A container as the daemon would list it for `s`'s current config.
fn existing(p: &Project, service: &str, number: u32, state: RunState) -> Existing {
    let hash = p
        .services
        .get(service)
        .map(labels::config_hash)
        .unwrap_or_default();
    Existing {
        id: format!("id-{service}-{number}"),
        name: labels::container_name(&p.name, service, number),
        service: service.into(),
        number,
        oneoff: false,
        config_hash: hash,
        state,
        image: "busybox".into(),
        status: String::new(),
        summary: ContainerSummary::default(),
    }
}

fn up() -> UpOptions {
    UpOptions {
        start: true,
        ..Default::default()
    }
}

fn names(plan: &Plan) -> Vec<Vec<String>> {
    plan.levels
        .iter()
        .map(|l| l.iter().map(|s| s.name.clone()).collect())
        .collect()
}

fn actions<'a>(plan: &'a Plan, service: &str) -> &'a [ContainerAction] {
    &plan.services().find(|s| s.name == service).unwrap().actions
}

#[test]
fn a_new_project_makes_everything_dependencies_first() {
    let p = project();
    let plan = plan_up(&p, &Current::default(), &up()).unwrap();
    assert_eq!(plan.networks, ["default"]);
    assert_eq!(plan.volumes, ["dbdata"]);
    assert_eq!(names(&plan), [vec!["db"], vec!["app"]]);
    assert_eq!(
        actions(&plan, "app"),
        [ContainerAction::Create { number: 1 }]
    );
    let app = plan.services().find(|s| s.name == "app").unwrap();
    assert_eq!(
        app.depends_on,
        [("db".to_string(), DependsCondition::ServiceHealthy)]
    );
}

#[test]
fn up_to_date_containers_are_kept_or_started() {
    let p = project();
    let cur = Current {
        containers: vec![
            existing(&p, "db", 1, RunState::Running),
            existing(&p, "app", 1, RunState::Stopped),
        ],
        networks: vec!["p_default".into()],
        volumes: vec!["p_dbdata".into()],
        ..Default::default()
    };
    let plan = plan_up(&p, &cur, &up()).unwrap();
    assert!(plan.networks.is_empty() && plan.volumes.is_empty());
    assert!(matches!(
        actions(&plan, "db"),
        [ContainerAction::Keep { .. }]
    ));
    assert!(matches!(
        actions(&plan, "app"),
        [ContainerAction::Start { .. }]
    ));
    // `create` starts nothing.
    let create = UpOptions::default();
    let plan = plan_up(&p, &cur, &create).unwrap();
    assert!(matches!(
        actions(&plan, "app"),
        [ContainerAction::Keep { .. }]
    ));
}

#[test]
fn a_changed_environment_recreates_only_that_service() {
    let mut p = project();
    let cur = Current {
        containers: vec![
            existing(&p, "db", 1, RunState::Running),
            existing(&p, "app", 1, RunState::Running),
        ],
        ..Default::default()
    };
    p.services["app"]
        .environment
        .insert("GREETING".into(), Some("new".into()));
    let plan = plan_up(&p, &cur, &up()).unwrap();
    assert!(matches!(
        actions(&plan, "db"),
        [ContainerAction::Keep { .. }]
    ));
    assert!(
        matches!(actions(&plan, "app"), [ContainerAction::Recreate { old }] if old.id == "id-app-1")
    );
    // --no-recreate keeps it; --force-recreate recreates both.
    let keep = UpOptions {
        no_recreate: true,
        ..up()
    };
    let plan = plan_up(&p, &cur, &keep).unwrap();
    assert!(matches!(
        actions(&plan, "app"),
        [ContainerAction::Keep { .. }]
    ));
    let force = UpOptions {
        force_recreate: true,
        ..up()
    };
    let plan = plan_up(&p, &cur, &force).unwrap();
    assert!(matches!(
        actions(&plan, "db"),
        [ContainerAction::Recreate { .. }]
    ));
}

#[test]
fn scale_adds_and_removes_numbers() {
    let p = project();
    let cur = Current {
        containers: vec![
            existing(&p, "db", 1, RunState::Running),
            existing(&p, "db", 2, RunState::Running),
            existing(&p, "db", 3, RunState::Running),
        ],
        ..Default::default()
    };
    let o = UpOptions {
        scale: HashMap::from([("db".into(), 2), ("app".into(), 2)]),
        ..up()
    };
    let plan = plan_up(&p, &cur, &o).unwrap();
    let db = actions(&plan, "db");
    assert!(matches!(&db[2], ContainerAction::Remove { existing } if existing.number == 3));
    assert_eq!(
        actions(&plan, "app"),
        [
            ContainerAction::Create { number: 1 },
            ContainerAction::Create { number: 2 }
        ]
    );
}

#[test]
fn joining_a_recreated_namespace_recreates_the_joiner() {
    let mut p = project();
    p.services["app"].network_mode = Some(NetworkMode::Service("db".into()));
    p.services["app"].depends_on.clear();
    let cur = Current {
        containers: vec![
            existing(&p, "db", 1, RunState::Running),
            existing(&p, "app", 1, RunState::Running),
        ],
        ..Default::default()
    };
    p.services["db"].hostname = Some("database".into());
    let plan = plan_up(&p, &cur, &up()).unwrap();
    assert_eq!(names(&plan), [vec!["db"], vec!["app"]]);
    assert!(matches!(
        actions(&plan, "app"),
        [ContainerAction::Recreate { .. }]
    ));
}

#[test]
fn selection_takes_dependencies_unless_no_deps() {
    let p = project();
    let one = vec!["app".to_string()];
    let s = select(&p, &one, false).unwrap();
    assert_eq!(s.len(), 2);
    let s = select(&p, &one, true).unwrap();
    assert_eq!(s.into_iter().collect::<Vec<_>>(), ["app"]);
    let o = UpOptions {
        services: one.clone(),
        no_deps: true,
        ..up()
    };
    let plan = plan_up(&p, &Current::default(), &o).unwrap();
    assert_eq!(names(&plan), [vec!["app"]]);
    assert!(
        plan.levels[0][0].depends_on.is_empty(),
        "nothing to wait for"
    );
    let e = select(&p, &["nope".to_string()], false).unwrap_err();
    assert_eq!(e.to_string(), "no such service: nope");
}

#[test]
fn a_cycle_is_named() {
    let mut p = project();
    p.services["db"].depends_on = depends("app", DependsCondition::ServiceStarted);
    let e = plan_up(&p, &Current::default(), &up()).unwrap_err();
    assert_eq!(e.to_string(), "dependency cycle between services: app, db");
}

#[test]
fn orphans_are_other_services_not_disabled_ones() {
    let mut p = project();
    p.disabled_services.insert("debug".into(), service("debug"));
    let mut gone = existing(&p, "gone", 1, RunState::Running);
    gone.service = "gone".into();
    let mut dbg = existing(&p, "debug", 1, RunState::Running);
    dbg.service = "debug".into();
    let cur = Current {
        containers: vec![gone.clone(), dbg.clone()],
        ..Default::default()
    };
    let plan = plan_up(&p, &cur, &up()).unwrap();
    assert_eq!(plan.orphans, [gone.clone()]);
    // `down` takes the disabled service's container; the orphan only
    // with --remove-orphans.
    let down = plan_down(&p, &cur, &DownOptions::default()).unwrap();
    assert_eq!(down.containers, [dbg.clone()]);
    let o = DownOptions {
        remove_orphans: true,
        ..Default::default()
    };
    let down = plan_down(&p, &cur, &o).unwrap();
    assert_eq!(down.containers.len(), 2);
}

#[test]
fn down_removes_dependents_first_one_offs_too() {
    let mut p = project();
    p.services["app"].image = None;
    let mut run = existing(&p, "db", 0, RunState::Running);
    run.oneoff = true;
    run.name = "p-db-run-abc".into();
    let cur = Current {
        containers: vec![
            existing(&p, "db", 1, RunState::Running),
            existing(&p, "app", 1, RunState::Running),
            run,
        ],
        networks: vec!["p_default".into()],
        volumes: vec!["p_dbdata".into()],
        ..Default::default()
    };
    let o = DownOptions {
        volumes: true,
        rmi: Some(false),
        ..Default::default()
    };
    let down = plan_down(&p, &cur, &o).unwrap();
    let order: Vec<&str> = down.containers.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(order, ["p-db-run-abc", "p-app-1", "p-db-1"]);
    assert_eq!(down.networks, ["p_default"]);
    assert_eq!(down.volumes, ["p_dbdata"]);
    assert_eq!(down.images, ["p-app"]);
    let all = DownOptions {
        rmi: Some(true),
        ..Default::default()
    };
    let down = plan_down(&p, &cur, &all).unwrap();
    assert_eq!(down.images, ["p-app", "busybox"]);
    assert!(down.volumes.is_empty(), "volumes only with -v");
}

#[test]
fn external_objects_are_never_created_or_removed() {
    let mut p = project();
    p.networks["default"].external = true;
    p.volumes["dbdata"].external = true;
    let plan = plan_up(&p, &Current::default(), &up()).unwrap();
    assert!(plan.networks.is_empty() && plan.volumes.is_empty());
    let cur = Current {
        networks: vec!["p_default".into()],
        volumes: vec!["p_dbdata".into()],
        ..Default::default()
    };
    let o = DownOptions {
        volumes: true,
        ..Default::default()
    };
    let down = plan_down(&p, &cur, &o).unwrap();
    assert!(down.networks.is_empty() && down.volumes.is_empty());
}

#[test]
fn a_project_known_by_name_only_takes_all_its_labelled_objects() {
    let full = project();
    let p = Project {
        name: "p".into(),
        ..Default::default()
    };
    let cur = Current {
        containers: vec![existing(&full, "db", 1, RunState::Running)],
        networks: vec!["p_default".into()],
        volumes: vec!["p_dbdata".into()],
        ..Default::default()
    };
    let down = plan_down(&p, &cur, &DownOptions::default()).unwrap();
    assert_eq!(down.containers.len(), 1);
    assert_eq!(down.networks, ["p_default"]);
    assert!(down.volumes.is_empty(), "volumes only with -v");
    let o = DownOptions {
        volumes: true,
        ..Default::default()
    };
    assert_eq!(plan_down(&p, &cur, &o).unwrap().volumes, ["p_dbdata"]);
}

#[test]
fn a_container_of_an_older_image_is_recreated() {
    let p = project();
    let mut db = existing(&p, "db", 1, RunState::Running);
    db.summary.image_id = Some("sha256:old".into());
    let mut cur = Current {
        containers: vec![db],
        ..Default::default()
    };
    cur.images.insert("busybox".into(), "sha256:old".into());
    let plan = plan_up(&p, &cur, &up()).unwrap();
    assert!(matches!(
        actions(&plan, "db"),
        [ContainerAction::Keep { .. }]
    ));
    cur.images.insert("busybox".into(), "sha256:new".into());
    let plan = plan_up(&p, &cur, &up()).unwrap();
    assert!(matches!(
        actions(&plan, "db"),
        [ContainerAction::Recreate { .. }]
    ));
}

#[test]
fn restart_true_restarts_the_dependent_of_a_recreated_service() {
    let mut p = project();
    let cur = Current {
        containers: vec![
            existing(&p, "db", 1, RunState::Running),
            existing(&p, "app", 1, RunState::Running),
        ],
        ..Default::default()
    };
    p.services["db"].hostname = Some("changed".into());
    let plan = plan_up(&p, &cur, &up()).unwrap();
    assert!(matches!(
        actions(&plan, "app"),
        [ContainerAction::Keep { .. }]
    ));
    p.services["app"].depends_on["db"].restart = true;
    // The app's own hash counts its depends_on: its container is of the
    // config with `restart: true`, the db's of the old one.
    let cur = Current {
        containers: vec![
            existing(&project(), "db", 1, RunState::Running),
            existing(&p, "app", 1, RunState::Running),
        ],
        ..Default::default()
    };
    let plan = plan_up(&p, &cur, &up()).unwrap();
    assert!(matches!(
        actions(&plan, "db"),
        [ContainerAction::Recreate { .. }]
    ));
    assert!(matches!(
        actions(&plan, "app"),
        [ContainerAction::Restart { .. }]
    ));
}

#[test]
fn a_fixed_container_name_cannot_scale() {
    let mut p = project();
    p.services["db"].container_name = Some("mydb".into());
    let o = UpOptions {
        scale: HashMap::from([("db".into(), 2)]),
        ..up()
    };
    let e = plan_up(&p, &Current::default(), &o).unwrap_err();
    assert!(
        e.to_string()
            .contains("container_name \"mydb\" names one container, not 2"),
        "{e}"
    );
    assert!(plan_up(&p, &Current::default(), &up()).is_ok());
}
