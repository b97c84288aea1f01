// The one C++ file of liblacquer: Debian 12's TagLib C binding (1.13) has no property
// interface (taglib_property_set arrived in TagLib 2.0), so ISRC, album artist, track
// total and label are reachable only through TagLib's C++ PropertyMap.  This shim opens
// the file with the class its format needs (the hidden export has no extension for
// TagLib to guess from), merges the properties and saves.  No exception crosses into C.
#include <taglib/aifffile.h>
#include <taglib/flacfile.h>
#include <taglib/infotag.h>
#include <taglib/mpegfile.h>
#include <taglib/opusfile.h>
#include <taglib/tpropertymap.h>
#include <taglib/vorbisfile.h>
#include <taglib/wavfile.h>

#include <cstdio>
#include <memory>

#include "io/tags.h"

namespace {

TagLib::PropertyMap to_map(const char *const *keys, const char *const *values, size_t n)
{
    TagLib::PropertyMap map;
    for (size_t i = 0; i < n; i++)
        map.replace(TagLib::String(keys[i], TagLib::String::UTF8),
                    TagLib::StringList(TagLib::String(values[i], TagLib::String::UTF8)));
    return map;
}

// Merge into what the file already has; returns the keys the format could not store.
TagLib::PropertyMap merge(TagLib::File &f, const TagLib::PropertyMap &add)
{
    TagLib::PropertyMap cur = f.properties();
    for (const auto &kv : add) cur.replace(kv.first, kv.second);
    return f.setProperties(cur);
}

}  // namespace

extern "C" int lq_taglib_write(const char *path, int kind, const char *const *keys,
                               const char *const *values, size_t n, char *err, size_t errlen)
{
    try {
        TagLib::PropertyMap add = to_map(keys, values, n);
        std::unique_ptr<TagLib::File> f;
        switch (kind) {
        case LQ_TAGLIB_FLAC: f.reset(new TagLib::FLAC::File(path, false)); break;
        case LQ_TAGLIB_MP3: f.reset(new TagLib::MPEG::File(path, false)); break;
        case LQ_TAGLIB_VORBIS: f.reset(new TagLib::Ogg::Vorbis::File(path, false)); break;
        case LQ_TAGLIB_OPUS: f.reset(new TagLib::Ogg::Opus::File(path, false)); break;
        case LQ_TAGLIB_WAV: f.reset(new TagLib::RIFF::WAV::File(path, false)); break;
        case LQ_TAGLIB_AIFF: f.reset(new TagLib::RIFF::AIFF::File(path, false)); break;
        default: std::snprintf(err, errlen, "no tag format"); return -1;
        }
        if (!f->isOpen() || !f->isValid() || f->readOnly()) {
            std::snprintf(err, errlen, "TagLib cannot open it for writing");
            return -1;
        }
        TagLib::PropertyMap rejected = merge(*f, add);
        if (kind == LQ_TAGLIB_WAV) {
            // WAV: ID3v2 (an "id3 " chunk: every field) and RIFF INFO (the basic fields,
            // for readers that know only INFO).
            auto *wav = static_cast<TagLib::RIFF::WAV::File *>(f.get());
            wav->InfoTag()->setProperties(add);
            if (!wav->save(TagLib::RIFF::WAV::File::AllTags, TagLib::File::StripOthers,
                           TagLib::ID3v2::v4)) {
                std::snprintf(err, errlen, "TagLib could not save the tags");
                return -1;
            }
        } else if (kind == LQ_TAGLIB_MP3) {
            // ID3v2.4 only: no ID3v1 (it truncates titles to 30 bytes of Latin-1).
            auto *mp3 = static_cast<TagLib::MPEG::File *>(f.get());
            if (!mp3->save(TagLib::MPEG::File::ID3v2, TagLib::File::StripOthers,
                           TagLib::ID3v2::v4)) {
                std::snprintf(err, errlen, "TagLib could not save the tags");
                return -1;
            }
        } else if (!f->save()) {
            std::snprintf(err, errlen, "TagLib could not save the tags");
            return -1;
        }
        if (!rejected.isEmpty()) {
            std::snprintf(err, errlen, "the format cannot store %s",
                          rejected.begin()->first.toCString(true));
            return 1;
        }
        return 0;
    } catch (...) {
        std::snprintf(err, errlen, "TagLib failed");
        return -1;
    }
}
