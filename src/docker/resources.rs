//! Engine objects other than containers: bridge networks, named volumes and
//! images (existence checks, pulls, removal).

use std::collections::{BTreeMap, HashMap};

use bollard::models::{
    EndpointSettings, NetworkConnectRequest, NetworkCreateRequest, NetworkDisconnectRequest,
    VolumeCreateRequest,
};
use bollard::query_parameters::{
    CreateImageOptionsBuilder, ListNetworksOptionsBuilder, ListVolumesOptionsBuilder,
    RemoveImageOptionsBuilder, RemoveVolumeOptionsBuilder,
};
use futures_util::TryStreamExt;

use super::{engine_error, is_not_found, label_filter_query, reason_of, Docker, DockerError};

pub(super) fn to_hash_map(map: &BTreeMap<String, String>) -> HashMap<String, String> {
    map.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

/// Splits an image reference into the `fromImage`/`tag` pair of a pull (and
/// the name/tag pair of a push):
/// `repo[:tag]` (tag defaults to `latest`, so one tag is pulled, not all) or
/// `repo@digest` (pulled as is).
pub(super) fn pull_reference(image: &str) -> (String, Option<String>) {
    if image.contains('@') {
        return (image.to_string(), None);
    }
    let name_start = image.rfind('/').map_or(0, |i| i + 1);
    match image[name_start..].rfind(':') {
        Some(i) => {
            let colon = name_start + i;
            (
                image[..colon].to_string(),
                Some(image[colon + 1..].to_string()),
            )
        }
        None => (image.to_string(), Some("latest".to_string())),
    }
}

impl Docker {
    /// Creates the bridge network `name` with `labels`, or reuses an existing
    /// network of that name (its labels are left as they are). Returns its id.
    /// On a swarm, an attachable overlay network (the probe agent joins it).
    pub async fn ensure_network(
        &self,
        name: &str,
        labels: &BTreeMap<String, String>,
    ) -> Result<String, DockerError> {
        match self.on_swarm() {
            true => {
                self.ensure_network_with(name, labels, "overlay", true)
                    .await
            }
            false => {
                self.ensure_network_with(name, labels, "bridge", false)
                    .await
            }
        }
    }

    /// [`Docker::ensure_network`] with another `driver` (`overlay` on a
    /// swarm, `attachable` so that one-off containers can join it).
    pub(super) async fn ensure_network_with(
        &self,
        name: &str,
        labels: &BTreeMap<String, String>,
        driver: &str,
        attachable: bool,
    ) -> Result<String, DockerError> {
        match self.client.inspect_network(name, None).await {
            Ok(network) => return Ok(network.id.unwrap_or_default()),
            Err(e) if is_not_found(&e) => {}
            Err(e) => return Err(engine_error(format!("inspect network `{name}`"), &e)),
        }
        let request = NetworkCreateRequest {
            name: name.to_string(),
            driver: Some(driver.to_string()),
            attachable: attachable.then_some(true),
            labels: Some(to_hash_map(labels)),
            ..NetworkCreateRequest::default()
        };
        let created = self
            .client
            .create_network(request)
            .await
            .map_err(|e| engine_error(format!("create network `{name}`"), &e))?;
        Ok(created.id)
    }

    /// Attaches the running container to `network` under `aliases`.
    pub async fn connect_network(
        &self,
        container: &str,
        network: &str,
        aliases: &[String],
    ) -> Result<(), DockerError> {
        let request = NetworkConnectRequest {
            container: container.to_string(),
            endpoint_config: Some(EndpointSettings {
                aliases: (!aliases.is_empty()).then(|| aliases.to_vec()),
                ..EndpointSettings::default()
            }),
        };
        self.client
            .connect_network(network, request)
            .await
            .map_err(|e| engine_error(format!("connect `{container}` to network `{network}`"), &e))
    }

    /// Detaches the container from `network` (its names there stop
    /// resolving at once).
    pub async fn disconnect_network(
        &self,
        container: &str,
        network: &str,
    ) -> Result<(), DockerError> {
        let request = NetworkDisconnectRequest {
            container: container.to_string(),
            force: Some(true),
        };
        self.client
            .disconnect_network(network, request)
            .await
            .map_err(|e| {
                engine_error(
                    format!("disconnect `{container}` from network `{network}`"),
                    &e,
                )
            })
    }

    /// Removes the network `name`; a missing network is not an error.
    pub async fn remove_network(&self, name: &str) -> Result<(), DockerError> {
        match self.client.remove_network(name).await {
            Ok(()) => Ok(()),
            Err(e) if is_not_found(&e) => Ok(()),
            Err(e) => Err(engine_error(format!("remove network `{name}`"), &e)),
        }
    }

    /// Creates the named volume `name` with `labels` unless it exists (an
    /// existing volume is reused as is).
    pub async fn ensure_volume(
        &self,
        name: &str,
        labels: &BTreeMap<String, String>,
    ) -> Result<(), DockerError> {
        // On a swarm, the node a task lands on creates its volumes (with
        // the labels of its mount).
        if self.on_swarm() {
            return Ok(());
        }
        match self.client.inspect_volume(name).await {
            Ok(_) => return Ok(()),
            Err(e) if is_not_found(&e) => {}
            Err(e) => return Err(engine_error(format!("inspect volume `{name}`"), &e)),
        }
        let request = VolumeCreateRequest {
            name: Some(name.to_string()),
            labels: Some(to_hash_map(labels)),
            ..VolumeCreateRequest::default()
        };
        self.client
            .create_volume(request)
            .await
            .map_err(|e| engine_error(format!("create volume `{name}`"), &e))?;
        Ok(())
    }

    /// Removes the named volume `name` (and its data); a missing volume is not
    /// an error, a volume still used by a container is.
    pub async fn remove_volume(&self, name: &str) -> Result<(), DockerError> {
        let options = RemoveVolumeOptionsBuilder::default().force(false).build();
        let started = std::time::Instant::now();
        let mut removed = self.client.remove_volume(name, Some(options.clone())).await;
        // A swarm task's container goes a moment after the task has left
        // the swarm's list: its volume is in use until then.
        while self.on_swarm()
            && matches!(&removed, Err(e) if super::status_of(e) == Some(409))
            && started.elapsed() < std::time::Duration::from_secs(60)
        {
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
            removed = self.client.remove_volume(name, Some(options.clone())).await;
        }
        match removed {
            Ok(()) => Ok(()),
            // A swarm node's volume is on that node, out of this
            // connection's reach: never reported removed when it was not.
            Err(e) if is_not_found(&e) && self.on_swarm() => Err(DockerError::Engine {
                action: format!("remove volume `{name}`"),
                reason: "it is not on the swarm manager this connection reaches; a volume lives on the node its resource was pinned to: remove it there (`docker volume rm` on that node)".into(),
            }),
            Err(e) if is_not_found(&e) => Ok(()),
            Err(e) => Err(engine_error(format!("remove volume `{name}`"), &e)),
        }
    }

    /// Names (sorted) of the volumes carrying all `label_filters`
    /// (`(key, value)`; an empty value only requires the key). One engine call.
    pub async fn list_volumes(
        &self,
        label_filters: &[(&str, &str)],
    ) -> Result<Vec<String>, DockerError> {
        let options = ListVolumesOptionsBuilder::default()
            .filters(&label_filter_query(label_filters))
            .build();
        let response = self
            .client
            .list_volumes(Some(options))
            .await
            .map_err(|e| engine_error("list volumes", &e))?;
        let mut names: Vec<String> = response
            .volumes
            .unwrap_or_default()
            .into_iter()
            .map(|v| v.name)
            .collect();
        names.sort();
        Ok(names)
    }

    /// Names (sorted) of the networks carrying all `label_filters`. One
    /// engine call.
    pub async fn list_networks(
        &self,
        label_filters: &[(&str, &str)],
    ) -> Result<Vec<String>, DockerError> {
        let options = ListNetworksOptionsBuilder::default()
            .filters(&label_filter_query(label_filters))
            .build();
        let networks = self
            .client
            .list_networks(Some(options))
            .await
            .map_err(|e| engine_error("list networks", &e))?;
        let mut names: Vec<String> = networks.into_iter().filter_map(|n| n.name).collect();
        names.sort();
        Ok(names)
    }

    /// Whether the image reference `image` is present locally.
    pub async fn image_exists(&self, image: &str) -> Result<bool, DockerError> {
        match self.client.inspect_image(image).await {
            Ok(_) => Ok(true),
            Err(e) if is_not_found(&e) => Ok(false),
            Err(e) => Err(engine_error(format!("inspect image `{image}`"), &e)),
        }
    }

    /// The engine's id (`sha256:…`) of the image `image` names; `None` when
    /// there is none.
    pub async fn image_id(&self, image: &str) -> Result<Option<String>, DockerError> {
        match self.client.inspect_image(image).await {
            Ok(i) => Ok(i.id),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(engine_error(format!("inspect image `{image}`"), &e)),
        }
    }

    /// Makes sure `image` is present locally, pulling it when it is not.
    pub async fn ensure_image(&self, image: &str) -> Result<(), DockerError> {
        if self.image_exists(image).await? {
            return Ok(());
        }
        let (from_image, tag) = pull_reference(image);
        let mut builder = CreateImageOptionsBuilder::default().from_image(&from_image);
        if let Some(tag) = &tag {
            builder = builder.tag(tag);
        }
        let pull = self
            .client
            .create_image(Some(builder.build()), None, None)
            .try_for_each(|_progress| async { Ok(()) })
            .await;
        pull.map_err(|e| DockerError::Pull {
            image: image.to_string(),
            engine: self.address().to_string(),
            reason: reason_of(&e),
        })?;
        // A pull can "succeed" without producing the reference (e.g. platform
        // mismatch); check instead of trusting the stream.
        if self.image_exists(image).await? {
            Ok(())
        } else {
            Err(DockerError::Pull {
                image: image.to_string(),
                engine: self.address().to_string(),
                reason: "the pull finished but the image is still missing".to_string(),
            })
        }
    }

    /// Removes the image reference `image` (untags it; the image goes when
    /// nothing else names it). Its untagged parents are kept (`noprune`):
    /// they are build cache, which a build of the same context for another
    /// environment on this engine may be using at this moment (removing it
    /// fails that build with "failed to get digest"); `docker image prune`
    /// reclaims them. A missing image is not an error; an image used by a
    /// container is.
    pub async fn remove_image(&self, image: &str) -> Result<(), DockerError> {
        let options = RemoveImageOptionsBuilder::default().noprune(true).build();
        match self.client.remove_image(image, Some(options), None).await {
            Ok(_) => Ok(()),
            Err(e) if is_not_found(&e) => Ok(()),
            Err(e) => Err(engine_error(format!("remove image `{image}`"), &e)),
        }
    }
}

impl Docker {
    /// Removes the image reference `image` unless a container (running or
    /// not) uses it: `Ok(false)` then, and the image stays. A missing image
    /// counts as removed. Its parents stay, as [`Docker::remove_image`]
    /// says why.
    pub async fn remove_image_unless_used(&self, image: &str) -> Result<bool, DockerError> {
        let options = RemoveImageOptionsBuilder::default().noprune(true).build();
        match self.client.remove_image(image, Some(options), None).await {
            Ok(_) => Ok(true),
            Err(e) if is_not_found(&e) => Ok(true),
            Err(e) if super::status_of(&e) == Some(409) => Ok(false),
            Err(e) => Err(engine_error(format!("remove image `{image}`"), &e)),
        }
    }
}

#[cfg(test)]
mod unit {
    use super::pull_reference;

    #[test]
    fn pull_reference_defaults_to_latest_and_keeps_registry_ports() {
        assert_eq!(
            pull_reference("busybox"),
            ("busybox".into(), Some("latest".into()))
        );
        assert_eq!(pull_reference("a/b:1"), ("a/b".into(), Some("1".into())));
        assert_eq!(
            pull_reference("reg:5000/a/b"),
            ("reg:5000/a/b".into(), Some("latest".into()))
        );
        assert_eq!(
            pull_reference("reg:5000/a/b:2"),
            ("reg:5000/a/b".into(), Some("2".into()))
        );
        assert_eq!(pull_reference("a@sha256:00"), ("a@sha256:00".into(), None));
    }
}
