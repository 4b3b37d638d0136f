//! Docker's management forms, `rrun container …` and `rrun image …`: each
//! verb takes the same argument struct as its short form (`rrun ps` is
//! `rrun container ls`, `rrun rmi` is `rrun image rm`), and the short
//! forms run through the same match here. `network`, `volume` and
//! `system` have only the management form (and `events`, `info`).

use anyhow::Result;
use clap::Subcommand;

use super::build::{self, BuildArgs};
use super::client::Client;
use super::containers::{
    self, InspectArgs, KillArgs, LogsArgs, PortArgs, PruneArgs, RenameArgs, RmArgs, StartArgs,
    StopArgs, TopArgs, WaitArgs,
};
use super::copy::{self, CpArgs};
use super::filesystems::{self, CommitArgs, DiffArgs, ExportArgs};
use super::history::{self, HistoryArgs};
use super::images::{
    self, ImagesArgs, ImportArgs, LoadArgs, PullArgs, PushArgs, RmiArgs, SaveArgs, TagArgs,
};
use super::update::{self, UpdateArgs};
use super::{exec, ps, run, stats};

#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum ContainerCmd {
    /// Attach local standard input, output, and error streams to a running container.
    Attach(exec::AttachArgs),
    /// Create a new image from a container's changes.
    Commit(CommitArgs),
    /// Copy files/folders between a container and the local filesystem.
    Cp(CpArgs),
    /// Create a new container.
    Create(run::RunArgs),
    /// Inspect changes to files or directories on a container's filesystem.
    Diff(DiffArgs),
    /// Execute a command in a running container.
    Exec(exec::ExecArgs),
    /// Export a container's filesystem as a tar archive.
    Export(ExportArgs),
    /// Display detailed information on one or more containers.
    Inspect(InspectArgs),
    /// Kill one or more running containers.
    Kill(KillArgs),
    /// Fetch the logs of a container.
    Logs(LogsArgs),
    /// List containers.
    #[command(visible_alias = "ps", visible_alias = "list")]
    Ls(ps::PsArgs),
    /// Pause all processes within one or more containers.
    Pause(StartArgs),
    /// List port mappings or a specific mapping for the container.
    Port(PortArgs),
    /// Remove all stopped containers.
    Prune(PruneArgs),
    /// Rename a container.
    Rename(RenameArgs),
    /// Restart one or more containers.
    Restart(StopArgs),
    /// Remove one or more containers.
    #[command(visible_alias = "remove")]
    Rm(RmArgs),
    /// Create and run a new container from an image.
    Run(run::RunArgs),
    /// Start one or more stopped containers.
    Start(StartArgs),
    /// Display a live stream of container(s) resource usage statistics.
    Stats(stats::StatsArgs),
    /// Stop one or more running containers.
    Stop(StopArgs),
    /// Display the running processes of a container.
    Top(TopArgs),
    /// Unpause all processes within one or more containers.
    Unpause(StartArgs),
    /// Update configuration of one or more containers.
    Update(UpdateArgs),
    /// Block until one or more containers stop, then print their exit codes.
    Wait(WaitArgs),
}

#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum ImageCmd {
    /// Build an image from a Dockerfile.
    Build(BuildArgs),
    /// Show the history of an image.
    History(HistoryArgs),
    /// Import the contents from a tarball to create a filesystem image.
    Import(ImportArgs),
    /// Display detailed information on one or more images.
    Inspect(images::InspectArgs),
    /// Load an image from a tar archive or STDIN.
    Load(LoadArgs),
    /// List images.
    #[command(visible_alias = "list")]
    Ls(ImagesArgs),
    /// Remove unused images.
    Prune(images::PruneArgs),
    /// Download an image from a registry.
    Pull(PullArgs),
    /// Upload an image to a registry.
    Push(PushArgs),
    /// Remove one or more images.
    #[command(visible_alias = "rmi", visible_alias = "remove")]
    Rm(RmiArgs),
    /// Save one or more images to a tar archive (streamed to STDOUT by default).
    Save(SaveArgs),
    /// Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE.
    Tag(TagArgs),
}

/// Runs a container verb, in either form.
pub fn container(c: &Client, cmd: ContainerCmd) -> Result<i32> {
    use ContainerCmd as C;
    match cmd {
        C::Attach(a) => exec::attach(c, a),
        C::Commit(a) => filesystems::commit(c, &a),
        C::Cp(a) => copy::cp(c, &a),
        C::Create(a) => run::create_cmd(c, a.split()),
        C::Diff(a) => filesystems::diff(c, &a),
        C::Exec(a) => exec::exec(c, a),
        C::Export(a) => filesystems::export(c, &a),
        C::Inspect(a) => containers::inspect(c, Some("container"), &a),
        C::Kill(a) => containers::kill(c, &a.signal, &a.containers),
        C::Logs(a) => containers::logs(c, &a),
        C::Ls(a) => ps::ps(c, &a),
        C::Pause(a) => containers::pause(c, "pause", &a.containers),
        C::Port(a) => containers::port(c, &a.container, a.private_port.as_deref()),
        C::Prune(a) => containers::prune(c, &a),
        C::Rename(a) => containers::rename(c, &a.container, &a.new_name),
        C::Restart(a) => containers::stop(c, "restart", a.time, &a.containers),
        C::Rm(a) => containers::rm(c, &a),
        C::Run(a) => run::run(c, a.split()),
        C::Start(a) => containers::start_each(c, &a.containers),
        C::Stats(a) => stats::stats(c, &a),
        C::Stop(a) => containers::stop(c, "stop", a.time, &a.containers),
        C::Top(a) => containers::top(c, &a.container),
        C::Unpause(a) => containers::pause(c, "unpause", &a.containers),
        C::Update(a) => update::update(c, &a),
        C::Wait(a) => containers::wait(c, &a.containers),
    }
}

/// Runs an image verb, in either form.
pub fn image(c: &Client, cmd: ImageCmd) -> Result<i32> {
    use ImageCmd as I;
    match cmd {
        I::Build(a) => build::build(c, &a),
        I::History(a) => history::history(c, &a),
        I::Import(a) => images::import(c, &a),
        I::Inspect(a) => images::inspect(c, &a),
        I::Load(a) => images::load(c, a.input, a.quiet),
        I::Ls(a) => images::images(c, &a),
        I::Prune(a) => images::prune(c, &a),
        I::Pull(a) => images::pull_cmd(c, &a.image, a.platform.as_deref(), a.quiet),
        I::Push(a) => images::push(c, &a),
        I::Rm(a) => images::rmi(c, &a),
        I::Save(a) => images::save(c, &a),
        I::Tag(a) => images::tag(c, &a.source, &a.target),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::cmdline::parse;
    use crate::cli::Cmd;

    fn cmd(args: &str) -> Cmd {
        let argv = std::iter::once("rrun").chain(args.split_whitespace());
        match parse(argv) {
            Ok(cli) => cli.command,
            Err(r) => panic!("rrun {args}: {}", r.text),
        }
    }

    #[test]
    fn every_container_form_parses_with_the_short_forms_flags() {
        use ContainerCmd as C;
        let container = |args: &str| match cmd(&format!("container {args}")) {
            Cmd::Container(c) => c,
            other => panic!("{other:?}"),
        };
        assert!(matches!(container("attach --no-stdin web"), C::Attach(_)));
        assert!(matches!(
            container("create --name x -e A=1 busybox"),
            C::Create(_)
        ));
        assert!(matches!(container("exec -it web sh"), C::Exec(_)));
        assert!(matches!(container("inspect -f {{.Id}} -s web"), C::Inspect(a) if a.size));
        assert!(matches!(container("kill -s TERM web"), C::Kill(a) if a.signal == "TERM"));
        assert!(matches!(container("logs -f -n 5 web"), C::Logs(a) if a.follow));
        for ls in ["ls", "ps", "list"] {
            let c = container(&format!(
                "{ls} -a -q --no-trunc -f name=x --format {{{{.ID}}}}"
            ));
            assert!(matches!(c, C::Ls(a) if a.all && a.quiet && a.format.is_some()));
        }
        assert!(matches!(container("port web 80/tcp"), C::Port(_)));
        assert!(matches!(container("prune -f --filter until=1h"), C::Prune(a) if a.force));
        assert!(matches!(container("rename a b"), C::Rename(_)));
        assert!(matches!(container("restart -t 3 web"), C::Restart(a) if a.time == Some(3)));
        assert!(matches!(container("rm -f -v web"), C::Rm(a) if a.force && a.volumes));
        assert!(matches!(container("remove web"), C::Rm(_)));
        let run = container("run -dit --rm -p 8080:80 busybox sh -c true");
        let C::Run(a) = run else { panic!("{run:?}") };
        assert_eq!(a.split().command, ["sh", "-c", "true"]);
        assert!(matches!(container("start a b"), C::Start(a) if a.containers.len() == 2));
        assert!(matches!(
            container("stats --no-stream --format {{.Name}}"),
            C::Stats(_)
        ));
        assert!(matches!(container("stop -t 1 web"), C::Stop(_)));
        assert!(matches!(container("top web -ef"), C::Top(_)));
        assert!(matches!(container("wait web"), C::Wait(_)));
        assert!(
            matches!(container("commit -m msg -a me -c CMD=x --pause=false web r:1"), C::Commit(a) if !a.pause)
        );
        assert!(matches!(container("diff web"), C::Diff(_)));
        assert!(
            matches!(container("cp -a -L -q web:/etc/hosts ."), C::Cp(a) if a.archive && a.follow_link)
        );
        assert!(matches!(container("export -o x.tar web"), C::Export(_)));
        assert!(matches!(container("pause a b"), C::Pause(_)));
        assert!(matches!(container("unpause a"), C::Unpause(_)));
    }

    #[test]
    fn every_image_form_parses_with_the_short_forms_flags() {
        use ImageCmd as I;
        let image = |args: &str| match cmd(&format!("image {args}")) {
            Cmd::Image(c) => c,
            other => panic!("{other:?}"),
        };
        assert!(matches!(image("import -c CMD=sh - repo:tag"), I::Import(_)));
        assert!(matches!(image("inspect -f {{.Id}} busybox"), I::Inspect(_)));
        assert!(matches!(image("load -i x.tar -q"), I::Load(a) if a.quiet));
        for ls in ["ls", "list"] {
            let c = image(&format!(
                "{ls} -a -q --digests --format {{{{.ID}}}} busybox"
            ));
            assert!(matches!(c, I::Ls(a) if a.digests && a.reference.is_some()));
        }
        assert!(matches!(image("prune -a -f"), I::Prune(_)));
        assert!(matches!(image("pull -q busybox"), I::Pull(_)));
        let b = image("build -t app:1 -f Dockerfile.dev --build-arg A=1 --no-cache -q .");
        assert!(matches!(b, I::Build(a) if a.no_cache && a.quiet && a.context == "."));
        assert!(matches!(image("push -a -q reg:5000/app"), I::Push(a) if a.all_tags));
        for rm in ["rm", "rmi", "remove"] {
            assert!(matches!(image(&format!("{rm} -f busybox")), I::Rm(a) if a.force));
        }
        assert!(matches!(image("save -o x.tar busybox"), I::Save(_)));
        assert!(matches!(image("tag busybox mine:1"), I::Tag(a) if a.target == "mine:1"));
        assert!(
            matches!(image("history --human=false --no-trunc -q --format json busybox"), I::History(a) if !a.human)
        );
    }

    #[test]
    fn the_short_forms_and_the_other_groups_parse() {
        assert!(
            matches!(cmd("inspect --type network -f {{.Name}} n"), Cmd::Inspect(a) if a.kind.is_some())
        );
        assert!(
            matches!(cmd("version -f {{.Server.Version}}"), Cmd::Version(a) if a.format.is_some())
        );
        assert!(matches!(cmd("info --format json"), Cmd::Info(_)));
        assert!(matches!(cmd("system info -f {{.ID}}"), Cmd::System(_)));
        assert!(matches!(cmd("system events --since 1m"), Cmd::System(_)));
        assert!(matches!(cmd("system df --format json"), Cmd::System(_)));
        assert!(matches!(
            cmd("system prune -a -f --volumes"),
            Cmd::System(_)
        ));
        for n in [
            "create n",
            "ls --format json",
            "list",
            "inspect -f {{.Id}} n",
            "rm n",
            "remove n",
            "prune -f",
            "connect n c",
            "disconnect n c",
        ] {
            assert!(matches!(cmd(&format!("network {n}")), Cmd::Network(_)));
        }
        for v in [
            "create v",
            "ls --format json",
            "list",
            "inspect -f {{.Name}} v",
            "rm v",
            "remove v",
            "prune -a -f",
        ] {
            assert!(matches!(cmd(&format!("volume {v}")), Cmd::Volume(_)));
        }
    }

    #[test]
    fn the_filesystem_and_pause_verbs_have_short_forms() {
        assert!(matches!(cmd("commit web"), Cmd::Commit(a) if a.pause));
        assert!(matches!(cmd("diff web"), Cmd::Diff(_)));
        assert!(matches!(cmd("cp - web:/tmp"), Cmd::Cp(_)));
        assert!(matches!(cmd("export web"), Cmd::Export(_)));
        assert!(matches!(cmd("pause web"), Cmd::Pause(_)));
        assert!(matches!(cmd("unpause web"), Cmd::Unpause(_)));
        assert!(matches!(
            cmd("update -m 1g --restart always web"),
            Cmd::Update(_)
        ));
        let update = cmd("container update --cpus 2 --pids-limit 10 web");
        assert!(matches!(update, Cmd::Container(ContainerCmd::Update(_))));
        assert!(matches!(cmd("history busybox"), Cmd::History(a) if a.human));
        assert!(matches!(cmd("push reg:5000/app:1"), Cmd::Push(_)));
        assert!(matches!(cmd("build -t app ."), Cmd::Build(_)));
    }
}
