"""The custom resources the manifests may use, described field by field for deploy.checks.schema.

kubernetes-validate knows only built-in kinds, and an operator ignores (or rejects only at
apply time) a field it does not know, so a misspelled `partitons:` would pass unnoticed. Each
kind here lists the fields of its `spec` as the operator's CRD defines them (Strimzi 1.x,
CloudNativePG 1.2x with the Barman Cloud plugin, KEDA 2.x, Prometheus operator), typed where we
use them and left open (`ANY`) below that; an unknown field is an error naming the known ones.
KEDA's trigger metadata is a free map in its CRD: the scalers we use get their keys checked too.
To use a new field or kind, add it here from the operator's CRD.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

from deploy.checks.schema import ANY, Definition, ListOf, MapOf, Obj, OneOf, Shape

_RESOURCES: Final = Definition("io.k8s.api.core.v1.ResourceRequirements")
_SELECTOR: Final = Definition("io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector")
_CONFIG_VALUE: Final = (str, int, float, bool)


def _open(*names: str) -> dict[str, Shape]:
    """Fields that exist but that we do not describe further."""
    return dict.fromkeys(names, ANY)


def _req(*names: str) -> frozenset[str]:
    return frozenset(names)


# --- Strimzi (kafka.strimzi.io/v1) -----------------------------------------------------------

_STRIMZI_OPERATOR: Final[dict[str, Shape]] = {
    **_open("image", "jvmOptions", "livenessProbe", "readinessProbe", "logging"),
    "reconciliationIntervalMs": int,
    "resources": _RESOURCES,
    "watchedNamespace": str,
}
_STRIMZI_TOPIC_OPERATOR: Final = Obj({**_STRIMZI_OPERATOR, "startupProbe": ANY})
_STRIMZI_USER_OPERATOR: Final = Obj({**_STRIMZI_OPERATOR, "secretPrefix": str})

KAFKA: Final = Obj(
    {
        "kafka": Obj(
            {
                **_open(
                    "brokerRackInitImage",
                    "image",
                    "jmxOptions",
                    "jvmOptions",
                    "livenessProbe",
                    "logging",
                    "metricsConfig",
                    "quotas",
                    "rack",
                    "readinessProbe",
                    "template",
                    "tieredStorage",
                ),
                "version": str,
                "metadataVersion": str,
                "listeners": ListOf(
                    Obj(
                        {
                            "name": str,
                            "port": int,
                            "type": OneOf(
                                (
                                    "internal",
                                    "route",
                                    "tlsroute",
                                    "loadbalancer",
                                    "nodeport",
                                    "ingress",
                                    "cluster-ip",
                                )
                            ),
                            "tls": bool,
                            "authentication": Obj(
                                {
                                    "type": OneOf(("tls", "scram-sha-512", "custom")),
                                    **_open("listenerConfig", "sasl"),
                                },
                                _req("type"),
                            ),
                            "configuration": ANY,
                            "networkPolicyPeers": ListOf(
                                Definition("io.k8s.api.networking.v1.NetworkPolicyPeer")
                            ),
                        },
                        _req("name", "port", "type", "tls"),
                    )
                ),
                "authorization": Obj(
                    {
                        "type": OneOf(("simple", "custom")),
                        "superUsers": ListOf(str),
                        **_open("authorizerClass", "supportsAdminApi"),
                    },
                    _req("type"),
                ),
                "config": MapOf(_CONFIG_VALUE),
            },
            _req("listeners"),
        ),
        "entityOperator": Obj(
            {
                "topicOperator": _STRIMZI_TOPIC_OPERATOR,
                "userOperator": _STRIMZI_USER_OPERATOR,
                "template": ANY,
            }
        ),
        "kafkaExporter": Obj(
            {
                **_open("image", "livenessProbe", "readinessProbe", "template"),
                "topicRegex": str,
                "groupRegex": str,
                "topicExcludeRegex": str,
                "groupExcludeRegex": str,
                "logging": str,
                "enableSaramaLogging": bool,
                "showAllOffsets": bool,
                "resources": _RESOURCES,
            }
        ),
        **_open("clientsCa", "clusterCa", "cruiseControl"),
        "maintenanceTimeWindows": ListOf(str),
    },
    _req("kafka"),
)

_STRIMZI_VOLUME: Final[dict[str, Shape]] = {
    "type": OneOf(("ephemeral", "persistent-claim")),
    "id": int,
    "size": str,
    "sizeLimit": str,
    "class": str,
    "deleteClaim": bool,
    "kraftMetadata": OneOf(("shared",)),
    "selector": MapOf(str),
    "volumeAttributesClass": str,
}
KAFKA_NODE_POOL: Final = Obj(
    {
        "replicas": int,
        "roles": ListOf(OneOf(("controller", "broker"))),
        "storage": Obj(
            {
                **_STRIMZI_VOLUME,
                "type": OneOf(("ephemeral", "persistent-claim", "jbod")),
                "volumes": ListOf(Obj(_STRIMZI_VOLUME, _req("type"))),
            },
            _req("type"),
        ),
        "resources": _RESOURCES,
        **_open("jvmOptions", "template"),
    },
    _req("replicas", "roles", "storage"),
)

KAFKA_TOPIC: Final = Obj(
    {"topicName": str, "partitions": int, "replicas": int, "config": MapOf(_CONFIG_VALUE)}
)

ACL_OPERATIONS: Final = (
    "Read",
    "Write",
    "Create",
    "Delete",
    "Alter",
    "Describe",
    "ClusterAction",
    "AlterConfigs",
    "DescribeConfigs",
    "IdempotentWrite",
    "All",
)
KAFKA_USER: Final = Obj(
    {
        "authentication": Obj(
            {
                "type": OneOf(("tls", "tls-external", "scram-sha-512")),
                **_open("password", "validityDays", "renewalDays"),
            },
            _req("type"),
        ),
        "authorization": Obj(
            {
                "type": OneOf(("simple",)),
                "acls": ListOf(
                    Obj(
                        {
                            "resource": Obj(
                                {
                                    "type": OneOf(("topic", "group", "cluster", "transactionalId")),
                                    "name": str,
                                    "patternType": OneOf(("literal", "prefix")),
                                },
                                _req("type"),
                            ),
                            "operations": ListOf(OneOf(ACL_OPERATIONS)),
                            "host": str,
                            "type": OneOf(("allow", "deny")),
                        },
                        _req("resource", "operations"),
                    )
                ),
            },
            _req("type", "acls"),
        ),
        **_open("quotas", "template"),
    }
)

# --- CloudNativePG (postgresql.cnpg.io/v1) and its Barman Cloud plugin ------------------------

_SECRET_KEY: Final = Obj({"name": str, "key": str}, _req("name", "key"))
_CNPG_STORAGE: Final = Obj(
    {
        "size": str,
        "storageClass": str,
        "resizeInUseVolumes": bool,
        "pvcTemplate": Definition("io.k8s.api.core.v1.PersistentVolumeClaimSpec"),
    }
)
CNPG_CLUSTER: Final = Obj(
    {
        **_open(
            "backup",
            "certificates",
            "description",
            "env",
            "envFrom",
            "ephemeralVolumeSource",
            "ephemeralVolumesSizeLimit",
            "externalClusters",
            "failoverDelay",
            "imageCatalogRef",
            "imagePullPolicy",
            "imagePullSecrets",
            "inheritedMetadata",
            "livenessProbeTimeout",
            "logLevel",
            "managed",
            "maxSyncReplicas",
            "minSyncReplicas",
            "monitoring",
            "nodeMaintenanceWindow",
            "podSecurityContext",
            "podSelectorRefs",
            "postgresGID",
            "postgresUID",
            "primaryLease",
            "primaryUpdateMethod",
            "priorityClassName",
            "probes",
            "projectedVolumeTemplate",
            "replica",
            "replicationSlots",
            "schedulerName",
            "seccompProfile",
            "securityContext",
            "serviceAccountName",
            "serviceAccountTemplate",
            "smartShutdownTimeout",
            "startDelay",
            "stopDelay",
            "superuserSecret",
            "switchoverDelay",
            "tablespaces",
            "topologySpreadConstraints",
        ),
        "instances": int,
        "imageName": str,
        "enablePDB": bool,
        "enableSuperuserAccess": bool,
        "primaryUpdateStrategy": OneOf(("unsupervised", "supervised")),
        "bootstrap": Obj(
            {
                "initdb": Obj(
                    {
                        **_open(
                            "builtinLocale",
                            "dataChecksums",
                            "encoding",
                            "icuLocale",
                            "icuRules",
                            "import",
                            "locale",
                            "localeCType",
                            "localeCollate",
                            "localeProvider",
                            "options",
                            "postInitApplicationSQL",
                            "postInitApplicationSQLRefs",
                            "postInitSQL",
                            "postInitSQLRefs",
                            "postInitTemplateSQL",
                            "postInitTemplateSQLRefs",
                            "walSegmentSize",
                        ),
                        "database": str,
                        "owner": str,
                        "secret": Obj({"name": str}, _req("name")),
                    }
                ),
                **_open("recovery", "pg_basebackup"),
            }
        ),
        "storage": _CNPG_STORAGE,
        "walStorage": _CNPG_STORAGE,
        "resources": _RESOURCES,
        "affinity": Obj(
            {
                **_open(
                    "additionalPodAffinity",
                    "additionalPodAntiAffinity",
                    "nodeAffinity",
                    "nodeSelector",
                    "tolerations",
                ),
                "enablePodAntiAffinity": bool,
                "podAntiAffinityType": OneOf(("preferred", "required")),
                "topologyKey": str,
            }
        ),
        "postgresql": Obj(
            {
                **_open(
                    "enableAlterSystem",
                    "extensions",
                    "ldap",
                    "pg_hba",
                    "pg_ident",
                    "promotionTimeout",
                    "shared_preload_libraries",
                    "syncReplicaElectionConstraint",
                ),
                "parameters": MapOf(str),
                "synchronous": Obj(
                    {
                        **_open(
                            "failoverQuorum",
                            "maxStandbyNamesFromCluster",
                            "nodeFailureDomainKeys",
                            "podFailureDomainKeys",
                            "standbyNamesPost",
                            "standbyNamesPre",
                        ),
                        "method": OneOf(("any", "first")),
                        "number": int,
                        "dataDurability": OneOf(("required", "preferred")),
                    },
                    _req("method", "number"),
                ),
            }
        ),
        "plugins": ListOf(
            Obj(
                {"name": str, "enabled": bool, "isWALArchiver": bool, "parameters": MapOf(str)},
                _req("name"),
            )
        ),
    }
)
SCHEDULED_BACKUP: Final = Obj(
    {
        "schedule": str,
        "cluster": Obj({"name": str}, _req("name")),
        "backupOwnerReference": OneOf(("none", "self", "cluster")),
        "method": OneOf(("barmanObjectStore", "volumeSnapshot", "plugin")),
        "pluginConfiguration": Obj({"name": str, "parameters": MapOf(str)}, _req("name")),
        "immediate": bool,
        "suspend": bool,
        "online": bool,
        "target": OneOf(("primary", "prefer-standby")),
        "onlineConfiguration": ANY,
    },
    _req("cluster", "schedule"),
)
OBJECT_STORE: Final = Obj(
    {
        "configuration": Obj(
            {
                "destinationPath": str,
                "endpointURL": str,
                "serverName": str,
                "s3Credentials": Obj(
                    {
                        "accessKeyId": _SECRET_KEY,
                        "secretAccessKey": _SECRET_KEY,
                        "sessionToken": _SECRET_KEY,
                        "region": _SECRET_KEY,
                        "inheritFromIAMRole": bool,
                    }
                ),
                "wal": Obj(
                    {
                        "compression": OneOf(("bzip2", "gzip", "lz4", "snappy", "xz", "zstd")),
                        "maxParallel": int,
                        **_open(
                            "encryption",
                            "archiveAdditionalCommandArgs",
                            "restoreAdditionalCommandArgs",
                        ),
                    }
                ),
                "data": Obj(
                    {
                        "compression": OneOf(("bzip2", "gzip", "lz4", "snappy")),
                        "jobs": int,
                        "immediateCheckpoint": bool,
                        **_open(
                            "encryption", "additionalCommandArgs", "restoreAdditionalCommandArgs"
                        ),
                    }
                ),
                "tags": MapOf(str),
                "historyTags": MapOf(str),
                **_open("azureCredentials", "googleCredentials", "endpointCA"),
            },
            _req("destinationPath"),
        ),
        "retentionPolicy": str,
        "instanceSidecarConfiguration": ANY,
    },
    _req("configuration"),
)

# --- KEDA (keda.sh/v1alpha1) ------------------------------------------------------------------

SCALED_OBJECT: Final = Obj(
    {
        "scaleTargetRef": Obj(
            {"name": str, "kind": str, "apiVersion": str, "envSourceContainerName": str},
            _req("name"),
        ),
        "pollingInterval": int,
        "cooldownPeriod": int,
        "initialCooldownPeriod": int,
        "idleReplicaCount": int,
        "minReplicaCount": int,
        "maxReplicaCount": int,
        "advanced": Obj(
            {
                "horizontalPodAutoscalerConfig": Obj(
                    {
                        "name": str,
                        "behavior": Definition(
                            "io.k8s.api.autoscaling.v2.HorizontalPodAutoscalerBehavior"
                        ),
                    }
                ),
                "restoreToOriginalReplicaCount": bool,
                "scalingModifiers": ANY,
            }
        ),
        "fallback": Obj(
            {
                "failureThreshold": int,
                "replicas": int,
                "behavior": OneOf(
                    (
                        "static",
                        "currentReplicas",
                        "currentReplicasIfHigher",
                        "currentReplicasIfLower",
                        "scalingModifiers",
                    )
                ),
            },
            _req("failureThreshold", "replicas"),
        ),
        "triggers": ListOf(
            Obj(
                {
                    "type": str,
                    "name": str,
                    "metadata": MapOf(str),
                    "metricType": OneOf(("AverageValue", "Value", "Utilization")),
                    "useCachedMetrics": bool,
                    "authenticationRef": Obj(
                        {
                            "name": str,
                            "kind": OneOf(
                                ("TriggerAuthentication", "ClusterTriggerAuthentication")
                            ),
                        },
                        _req("name"),
                    ),
                },
                _req("type", "metadata"),
            )
        ),
    },
    _req("scaleTargetRef", "triggers"),
)
_PARAMETER_REF: Final = Obj(
    {"parameter": str, "name": str, "key": str}, _req("parameter", "name", "key")
)
TRIGGER_AUTHENTICATION: Final = Obj(
    {
        "secretTargetRef": ListOf(_PARAMETER_REF),
        "configMapTargetRef": ListOf(_PARAMETER_REF),
        "env": ListOf(
            Obj({"parameter": str, "name": str, "containerName": str}, _req("parameter", "name"))
        ),
        "filePath": str,
        **_open(
            "awsSecretManager",
            "azureKeyVault",
            "boundServiceAccountToken",
            "gcpSecretManager",
            "hashiCorpVault",
            "oauth2",
            "podIdentity",
        ),
    }
)


def _from_env(*names: str) -> tuple[str, ...]:
    """KEDA reads these from the metadata, or from a container's env as `<name>FromEnv`."""
    return (*names, *(f"{name}FromEnv" for name in names))


KEDA_TRIGGER_METADATA: Final[Mapping[str, frozenset[str]]] = {
    "kafka": frozenset(
        {
            *_from_env("bootstrapServers", "consumerGroup", "topic"),
            "partitionLimitation",
            "lagThreshold",
            "activationLagThreshold",
            "offsetResetPolicy",
            "allowIdleConsumers",
            "excludePersistentLag",
            "scaleToZeroOnInvalidOffset",
            "limitToPartitionsWithLag",
            "ensureEvenDistributionOfPartitions",
            "fullMetadata",
            "version",
            "tls",
            "unsafeSsl",
            "sasl",
            "saslTokenProvider",
            "awsRegion",
        }
    ),
    "postgresql": frozenset(
        {
            "query",
            "targetQueryValue",
            "activationTargetQueryValue",
            "host",
            "port",
            "userName",
            "dbName",
            "sslmode",
            *_from_env("connection", "password"),
        }
    ),
    "cpu": frozenset({"type", "value", "containerName"}),
    "memory": frozenset({"type", "value", "containerName"}),
    "prometheus": frozenset(
        {"serverAddress", "query", "threshold", "activationThreshold", "namespace", "authModes"}
    ),
}
"""The metadata keys of the KEDA scalers the manifests may use (from the scalers' sources)."""


def _keda_trigger_metadata(spec: Mapping[str, Any]) -> list[str]:
    problems = []
    triggers = spec.get("triggers")
    for index, trigger in enumerate(triggers if isinstance(triggers, list) else []):
        if not isinstance(trigger, dict):
            continue
        known = KEDA_TRIGGER_METADATA.get(str(trigger.get("type")))
        metadata = trigger.get("metadata")
        where = f"spec.triggers[{index}]"
        if known is None:
            problems.append(
                f"{where}.type: scaler {trigger.get('type')!r} is not described "
                f"(known: {', '.join(sorted(KEDA_TRIGGER_METADATA))})"
            )
            continue
        for key in metadata if isinstance(metadata, dict) else {}:
            if key not in known:
                problems.append(
                    f"{where}.metadata: unknown {trigger['type']} scaler key {key!r} "
                    f"(known: {', '.join(sorted(known))})"
                )
    return problems


# --- Prometheus operator (monitoring.coreos.com/v1) --------------------------------------------

_SCRAPE_ENDPOINT_OPEN: Final = _open(
    "authorization",
    "basicAuth",
    "bearerTokenSecret",
    "enableHttp2",
    "filterRunning",
    "followRedirects",
    "honorTimestamps",
    "metricRelabelings",
    "noProxy",
    "oauth2",
    "params",
    "proxyConnectHeader",
    "proxyFromEnvironment",
    "proxyUrl",
    "relabelings",
    "tlsConfig",
    "trackTimestampsStaleness",
)
_SCRAPE_ENDPOINT: Final[dict[str, Shape]] = {
    **_SCRAPE_ENDPOINT_OPEN,
    "port": str,
    "targetPort": (int, str),
    "path": str,
    "scheme": OneOf(("http", "https", "HTTP", "HTTPS")),
    "interval": str,
    "scrapeTimeout": str,
    "honorLabels": bool,
}
_MONITOR_OPEN: Final = _open(
    "attachMetadata",
    "bodySizeLimit",
    "convertClassicHistogramsToNHCB",
    "fallbackScrapeProtocol",
    "keepDroppedTargets",
    "labelLimit",
    "labelNameLengthLimit",
    "labelValueLengthLimit",
    "nativeHistogramBucketLimit",
    "nativeHistogramMinBucketFactor",
    "sampleLimit",
    "scrapeClass",
    "scrapeClassicHistograms",
    "scrapeNativeHistograms",
    "scrapeProtocols",
    "selectorMechanism",
    "targetLimit",
)
_MONITOR_COMMON: Final[dict[str, Shape]] = {
    **_MONITOR_OPEN,
    "selector": _SELECTOR,
    "namespaceSelector": Obj({"any": bool, "matchNames": ListOf(str)}),
    "jobLabel": str,
    "podTargetLabels": ListOf(str),
}
SERVICE_MONITOR: Final = Obj(
    {
        **_MONITOR_COMMON,
        "endpoints": ListOf(Obj({**_SCRAPE_ENDPOINT, "bearerTokenFile": ANY})),
        "targetLabels": ListOf(str),
        "serviceDiscoveryRole": ANY,
    },
    _req("endpoints", "selector"),
)
POD_MONITOR: Final = Obj(
    {
        **_MONITOR_COMMON,
        "podMetricsEndpoints": ListOf(Obj({**_SCRAPE_ENDPOINT, "portNumber": int})),
    },
    _req("selector"),
)
PROMETHEUS_RULE: Final = Obj(
    {
        "groups": ListOf(
            Obj(
                {
                    "name": str,
                    "interval": str,
                    "limit": int,
                    "query_offset": str,
                    "partial_response_strategy": str,
                    "labels": MapOf(str),
                    "rules": ListOf(
                        Obj(
                            {
                                "alert": str,
                                "record": str,
                                "expr": (str, int),
                                "for": str,
                                "keep_firing_for": str,
                                "labels": MapOf(str),
                                "annotations": MapOf(str),
                            },
                            _req("expr"),
                        )
                    ),
                },
                _req("name"),
            )
        )
    }
)

CUSTOM_RESOURCES: Final[Mapping[tuple[str, str], Obj]] = {
    ("kafka.strimzi.io/v1", "Kafka"): KAFKA,
    ("kafka.strimzi.io/v1", "KafkaNodePool"): KAFKA_NODE_POOL,
    ("kafka.strimzi.io/v1", "KafkaTopic"): KAFKA_TOPIC,
    ("kafka.strimzi.io/v1", "KafkaUser"): KAFKA_USER,
    ("postgresql.cnpg.io/v1", "Cluster"): CNPG_CLUSTER,
    ("postgresql.cnpg.io/v1", "ScheduledBackup"): SCHEDULED_BACKUP,
    ("barmancloud.cnpg.io/v1", "ObjectStore"): OBJECT_STORE,
    ("keda.sh/v1alpha1", "ScaledObject"): SCALED_OBJECT,
    ("keda.sh/v1alpha1", "TriggerAuthentication"): TRIGGER_AUTHENTICATION,
    ("keda.sh/v1alpha1", "ClusterTriggerAuthentication"): TRIGGER_AUTHENTICATION,
    ("monitoring.coreos.com/v1", "ServiceMonitor"): SERVICE_MONITOR,
    ("monitoring.coreos.com/v1", "PodMonitor"): POD_MONITOR,
    ("monitoring.coreos.com/v1", "PrometheusRule"): PROMETHEUS_RULE,
}
"""Each custom kind's `spec`, by (apiVersion, kind)."""

SPEC_CHECKS: Final[Mapping[tuple[str, str], Callable[[Mapping[str, Any]], list[str]]]] = {
    ("keda.sh/v1alpha1", "ScaledObject"): _keda_trigger_metadata,
}
"""What a kind's CRD leaves free-form but we check anyway, on a `spec` that has its shape."""
