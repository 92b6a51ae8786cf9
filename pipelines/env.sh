# Sourced by the pipeline scripts: use the uninstalled plugin from the build
# folder when there is one, and the shipped model by default.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
build=${SEQNN_BUILD_DIR:-$root/build}
if [[ -d $build/gst ]]; then
  export GST_PLUGIN_PATH="$build/gst${GST_PLUGIN_PATH:+:$GST_PLUGIN_PATH}"
fi
default_model="$root/models/agnews.model"
gst_launch=${GST_LAUNCH:-gst-launch-1.0}
