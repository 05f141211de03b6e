{{/* Names, labels and the config file, shared by every template. */}}

{{- define "dnssync.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "dnssync.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else if contains (include "dnssync.name" .) .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name (include "dnssync.name" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "dnssync.selectorLabels" -}}
app.kubernetes.io/name: {{ include "dnssync.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: controller
{{- end -}}

{{- define "dnssync.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "dnssync.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "dnssync.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "dnssync.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "dnssync.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{/* The TSIG Secret: the user's, or the chart's when tsig.secrets has entries; empty: none. */}}
{{- define "dnssync.tsigSecret" -}}
{{- if .Values.tsig.existingSecret -}}
{{- .Values.tsig.existingSecret -}}
{{- else if .Values.tsig.secrets -}}
{{- printf "%s-tsig" (include "dnssync.fullname" .) -}}
{{- end -}}
{{- end -}}

{{- define "dnssync.webhookEnabled" -}}
{{- if and .Values.acme.enabled .Values.acme.webhook.enabled -}}true{{- end -}}
{{- end -}}

{{- define "dnssync.challengesEnabled" -}}
{{- if and .Values.acme.enabled .Values.acme.challenges.enabled -}}true{{- end -}}
{{- end -}}

{{- define "dnssync.webhookService" -}}
{{- printf "%s-webhook" (include "dnssync.fullname" .) -}}
{{- end -}}

{{- define "dnssync.webhookTLSSecret" -}}
{{- if .Values.acme.webhook.tls.certManager -}}
{{- printf "%s-webhook-tls" (include "dnssync.fullname" .) -}}
{{- else -}}
{{- required "acme.webhook.tls.existingSecret is required when acme.webhook.tls.certManager is false" .Values.acme.webhook.tls.existingSecret -}}
{{- end -}}
{{- end -}}

{{/* A copy of a target or ACME server whose keys default to their file in the TSIG Secret. */}}
{{- define "dnssync.withKeyFiles" -}}
{{- $entry := deepCopy . -}}
{{- range $field := list "key" "transfer_key" -}}
{{- $key := get $entry $field -}}
{{- if and $key (not (hasKey $key "secret_file")) (not (hasKey $key "secret")) -}}
{{- $_ := set $key "secret_file" (printf "/etc/dnssync/secrets/%s" (required (printf "%s.name is required" $field) $key.name)) -}}
{{- end -}}
{{- end -}}
{{- toYaml $entry -}}
{{- end -}}

{{/* dnssync's config file (config/examples/dnssync.yaml lists every key). */}}
{{- define "dnssync.configFile" -}}
{{- $cfg := deepCopy (default dict .Values.config) -}}
{{- $targets := list -}}
{{- range .Values.targets -}}
{{- $targets = append $targets (include "dnssync.withKeyFiles" . | fromYaml) -}}
{{- end -}}
{{- $_ := set $cfg "targets" $targets -}}
{{- $le := .Values.leaderElection -}}
{{- $_ := set $cfg "leader_election" (dict "enabled" $le.enabled "lease_name" $le.leaseName "namespace" .Release.Namespace "duration" $le.duration "renew_deadline" $le.renewDeadline "retry_period" $le.retryPeriod) -}}
{{- $_ := set $cfg "http" (dict "host" "0.0.0.0" "port" .Values.ports.http) -}}
{{- if .Values.acme.enabled -}}
{{- $acme := deepCopy (default dict .Values.acme.config) -}}
{{- $servers := list -}}
{{- range .Values.acme.servers -}}
{{- $servers = append $servers (include "dnssync.withKeyFiles" . | fromYaml) -}}
{{- end -}}
{{- $_ := set $acme "servers" $servers -}}
{{- $_ := set $acme "owner_id" .Values.acme.owner_id -}}
{{- $hook := .Values.acme.webhook -}}
{{- $_ := set $acme "webhook" (dict "enabled" $hook.enabled "host" "0.0.0.0" "port" $hook.port "group_name" $hook.groupName "solver_name" $hook.solverName "cert_file" "/tls/tls.crt" "key_file" "/tls/tls.key" "auth_configmap" "kube-system/extension-apiserver-authentication") -}}
{{- $_ := set $acme "challenges" (merge (dict "enabled" .Values.acme.challenges.enabled) (default dict (get (default dict .Values.acme.config) "challenges"))) -}}
{{- $_ := set $cfg "acme" $acme -}}
{{- end -}}
{{- toYaml $cfg -}}
{{- end -}}

{{/* git-sync's container body, shared by the first checkout and the syncing sidecar. */}}
{{- define "dnssync.gitSync" -}}
image: {{ .Values.gitSync.image }}
env:
  - name: GITSYNC_REPO
    value: {{ required "gitSync.repo is required when gitSync.enabled" .Values.gitSync.repo | quote }}
  - name: GITSYNC_REF
    value: {{ .Values.gitSync.ref | quote }}
  - name: GITSYNC_ROOT
    value: /git
  - name: GITSYNC_LINK
    value: current
  - name: GITSYNC_PERIOD
    value: {{ .Values.gitSync.period | quote }}
  - name: GITSYNC_DEPTH
    value: {{ .Values.gitSync.depth | quote }}
securityContext:
  {{- toYaml .Values.gitSync.securityContext | nindent 2 }}
resources:
  {{- toYaml .Values.gitSync.resources | nindent 2 }}
volumeMounts:
  - name: manifests
    mountPath: /git
  - name: git-tmp
    mountPath: /tmp
{{- end -}}
