/* libseqnn umbrella header.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "seqnn/error.h"
#include "seqnn/model.h"
#include "seqnn/text.h"
#include "seqnn/dataset.h"
#include "seqnn/classifier.h"
#include "seqnn/modelcache.h"
#include "seqnn/trainloop.h"
#include "seqnn/context.h"
#include "seqnn/stream.h"
#include "seqnn/fit.h"
#include "seqnn/autotune.h"
