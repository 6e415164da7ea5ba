"""What TensorBoard's own Python package reads from stylelab's event files,
as JSON on standard output (for tests/it/tensorboard.rs).

    tensorboard_reader.py events RUN_DIR   every series of one run, read by
                                           the event accumulator
    tensorboard_reader.py hparams LOGDIR   the HParams plugin's experiment and
                                           session groups, as its backend
                                           computes them for the dashboard

Numbers travel as repr() strings (exact, and NaN/inf survive); images as
hexadecimal PNG; plugin data parsed with the plugins' own protobufs.
"""

import json
import sys

from tensorboard.backend.event_processing import event_accumulator as ea


def events(run_dir):
    acc = ea.EventAccumulator(
        run_dir,
        size_guidance={
            ea.COMPRESSED_HISTOGRAMS: 0,
            ea.IMAGES: 0,
            ea.AUDIO: 0,
            ea.SCALARS: 0,
            ea.HISTOGRAMS: 0,
            ea.TENSORS: 0,
        },
    )
    acc.Reload()
    tags = acc.Tags()
    out = {"scalars": {}, "images": {}, "texts": {}, "hparams": {}}
    for tag in tags["scalars"]:
        out["scalars"][tag] = [[e.step, repr(e.value)] for e in acc.Scalars(tag)]
    for tag in tags["images"]:
        out["images"][tag] = [
            [e.step, e.width, e.height, e.encoded_image_string.hex()]
            for e in acc.Images(tag)
        ]
    for tag in acc.PluginTagToContent("text"):
        out["texts"][tag] = [
            [e.step, e.tensor_proto.string_val[0].decode("utf-8")] for e in acc.Tensors(tag)
        ]
    from google.protobuf import json_format
    from tensorboard.plugins.hparams import plugin_data_pb2

    for tag, content in acc.PluginTagToContent("hparams").items():
        data = plugin_data_pb2.HParamsPluginData.FromString(content)
        out["hparams"][tag] = json_format.MessageToDict(data, preserving_proto_field_name=True)
    json.dump(out, sys.stdout)


def hparams(logdir):
    from tensorboard import context
    from tensorboard.backend.event_processing import data_provider
    from tensorboard.backend.event_processing import plugin_event_multiplexer as pem
    from tensorboard.plugins import base_plugin
    from tensorboard.plugins.hparams import api_pb2, backend_context, get_experiment
    from tensorboard.plugins.hparams import list_session_groups
    from google.protobuf import json_format

    mux = pem.EventMultiplexer()
    mux.AddRunsFromDirectory(logdir)
    mux.Reload()
    provider = data_provider.MultiplexerDataProvider(mux, logdir)
    tb = base_plugin.TBContext(logdir=logdir, multiplexer=mux, data_provider=provider)
    backend = backend_context.Context(tb)
    ctx = context.RequestContext()
    experiment = get_experiment.Handler(ctx, backend, "", api_pb2.GetExperimentRequest()).run()
    # The request the dashboard makes: every column, filtered by its domain.
    request = api_pb2.ListSessionGroupsRequest(
        start_index=0,
        slice_size=10000,
        allowed_statuses=[
            api_pb2.STATUS_UNKNOWN,
            api_pb2.STATUS_SUCCESS,
            api_pb2.STATUS_FAILURE,
            api_pb2.STATUS_RUNNING,
        ],
    )
    for h in experiment.hparam_infos:
        col = request.col_params.add(hparam=h.name)
        if h.HasField("domain_interval"):
            col.filter_interval.CopyFrom(h.domain_interval)
        elif h.HasField("domain_discrete"):
            col.filter_discrete.CopyFrom(h.domain_discrete)
        else:
            col.filter_regexp = ""
    for m in experiment.metric_infos:
        request.col_params.add(metric=m.name)
    groups = list_session_groups.Handler(ctx, backend, "", request).run()
    json.dump(
        {
            "experiment": json_format.MessageToDict(experiment, preserving_proto_field_name=True),
            "groups": json_format.MessageToDict(groups, preserving_proto_field_name=True),
        },
        sys.stdout,
    )


if __name__ == "__main__":
    {"events": events, "hparams": hparams}[sys.argv[1]](sys.argv[2])
