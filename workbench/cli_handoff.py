"""``workbench handoff``: send a saved view's (or a tag's) samples to Label Studio for re-annotation, and
load the corrections back into a new field (:mod:`workbench.render.annotation_handoff`).

    workbench handoff DATASET --view wb-label-issues --url http://127.0.0.1:8080   # key in $FIFTYONE_LABELSTUDIO_API_KEY
    workbench handoff DATASET --load wb_handoff_1 [--into wb_corrected_ground_truth]
"""

from __future__ import annotations

import argparse
import contextlib


def add_handoff_parser(sub) -> None:
    h = sub.add_parser("handoff", help="send the samples of a saved view or tag to Label Studio for re-annotation; "
                                       "--load brings the corrections back into a new field")
    h.add_argument("dataset", help="FiftyOne dataset name (see `workbench list`)")
    what = h.add_mutually_exclusive_group(required=True)
    what.add_argument("--view", help="a saved view to send, e.g. wb-label-issues, wb-review-queue, wb-leaks")
    what.add_argument("--tag", help="send the samples with this tag, e.g. wb:label_issue")
    what.add_argument("--load", metavar="ANNO_KEY", help="load the labels of this hand-off (its annotation run)")
    h.add_argument("--backend", default="labelstudio", choices=["labelstudio"],
                   help="annotation backend (CVAT: see the README; it needs a Docker server)")
    h.add_argument("--url", help="Label Studio address (default $FIFTYONE_LABELSTUDIO_URL)")
    h.add_argument("--api-key", help="Label Studio legacy token (default $FIFTYONE_LABELSTUDIO_API_KEY, which "
                                     "keeps it out of the process list); never printed")
    h.add_argument("--label-field", help="sending: the field to re-annotate (default ground_truth, or the one label "
                                         "field)")
    h.add_argument("--anno-key", help="sending: the annotation run's key (default wb_handoff_<n>)")
    h.add_argument("--into", help="loading: the new field for the corrections (default wb_corrected_<label field>)")


def run_handoff(args: argparse.Namespace) -> int:
    from workbench._fo import load_dataset
    from workbench.cli import EXIT_OK, _ToStderr
    from workbench.errors import HandoffError
    from workbench.render import annotation_handoff as handoff
    from workbench.render.annotation_server import resolve_access

    sending = args.load is None
    for option, value, allowed in (("--into", args.into, not sending), ("--label-field", args.label_field, sending),
                                   ("--anno-key", args.anno_key, sending)):
        if value is not None and not allowed:
            raise HandoffError(f"{option} goes with {'--load' if option == '--into' else '--view or --tag'}")
    access = resolve_access(args.url, args.api_key)
    with contextlib.redirect_stdout(_ToStderr()):  # FiftyOne's and the SDK's prints are not the summary
        dataset = load_dataset(args.dataset)
        if sending:
            samples, selection = handoff.select_samples(dataset, view=args.view, tag=args.tag)
            label_field = args.label_field or handoff.default_label_field(dataset)
            done = handoff.send_for_annotation(dataset, samples, selection=selection, label_field=label_field,
                                               access=access, anno_key=args.anno_key)
        else:
            done = handoff.load_corrections(dataset, args.load, access=access, into=args.into)
    print(f"handoff        {done.summary()}")
    if sending:
        print(f"load back      workbench handoff {dataset.name} --load {done.anno_key}")
    else:
        print(f"review         workbench app {dataset.name} (field {done.field})")
    return EXIT_OK
